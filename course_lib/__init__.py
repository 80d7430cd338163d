"""course_lib: the shared code of the course on autoencoders and VAEs.

Import it as ``import course_lib as cl``; importing has no side effects. Every
public name of every module is re-exported here, explicitly, so that an editor's
go-to-definition lands in the module that defines it.
"""

__version__ = "0.1.0"

from .analysis import (
    code_sensitivity, code_sparsity, distance_distortion, fraction_within, jacobian_norms,
    nearest_distances, pairwise_sq_distances, pca_fit, pca_reconstruct, principal_angles,
)
from .architectures import (
    all_conv_vae, conditional_conv_vae, conv_vae, init_output_bias, linear_autoencoder,
    mlp_autoencoder, mlp_vae, tied_autoencoder, TiedLinear, TopK,
)
from .autoregressive import (
    AutoregressiveDecoder, AutoregressiveVAE, autoregressive_mlp_vae, MaskedConv2d,
)
from .attributes import (
    attribute_loss, AttributeRegressor, predict_attributes, r2_scores, train_attribute_regressor,
)
from .claims import (
    check_claim, ClaimContradicted,
)
from .checkpoints import (
    check_checkpoint, CheckpointMismatchError, display_path, load_or_train, Loaded,
    read_manifest, save_checkpoint, sha256_file,
)
from .corruption import (
    block_mask, corrupt, CORRUPTIONS, denoise, gaussian_blur, gaussian_noise, mask_pixels,
    random_corruption, salt_and_pepper,
)
from .cvae import (
    class_swap, temperature_samples,
)
from .data import (
    data_root, DATASETS, DataUnavailableError, dynamic_binarize, ImageData, load_images,
    prepare, preprocess_drawing, swiss_roll, swiss_roll_sampler,
)
from .disentanglement import (
    dci, DCIScores, discretize, entropy_discrete, mig, mutual_information_matrix, MutualInformation,
)
from .estimators import (
    reparam_gradients, score_function_gradients,
)
from .export import (
    export_onnx, figure_frames, gaussian_posterior_explorer, latent_plane, latent_slider,
    site_assets_dir,
)
from .faces import (
    CelebAUnavailableError, FACE_ATTRIBUTES, FaceAttributes, load_celeba, make_faces,
    render_faces, sample_face_attributes,
)
from .latent import (
    active_units, elbo_surgery, ELBOSurgery, encode_dataset, interpolate, iwae_log_likelihood, iwae_nll,
    knn_accuracy, log_aggregate_posterior, NLLEstimate, Silhouette, silhouette, tsne_2d,
)
from .latent_arithmetic import (
    attribute_vector, class_means, decode_images, edit, edit_many,
)
from .losses import (
    ae_loss, bernoulli_log_likelihood, contractive_ae_loss, contractive_penalty,
    decoder_log_likelihood, denoising_ae_loss, encoder_jacobian, free_bits_kl, gaussian_kl,
    gaussian_kl_diag, gaussian_log_likelihood, iwae_bound, IWAEObjective, kl_per_dim, kl_warmup,
    log_normal_diag, negative_elbo, posterior_kl, sparse_ae_loss, sparsity_penalty, squared_error,
    top_k_codes, vae_loss, VAEObjective,
)
from .models import (
    AEOutput, Autoencoder, check_input, ConditionalVAE, LIKELIHOODS, mlp, reparameterize, VAE,
    VAEOutput,
)
from .notebook import BOOK_BUILD_ENV, GLUE_MIME_PREFIX, glue, in_book_build
from .plotting import (
    denoising_figure, edit_figure, image_grid, image_mosaic, interpolation_figure,
    interpolation_picture, plot_history, q_vs_posterior_figure, rate_distortion_figure,
    scatter2d, temperature_figure, traversal_figure,
)
from .ppca import (
    FAMILIES, fit_q, inference_gaps, InferenceGaps, LinearGaussian, ppca_log_weights, q_posterior_axes,
    q_posterior_terms,
)
from .priors import (
    log_normal_mixture, MixtureOfGaussiansPrior, StandardNormalPrior, VampPrior,
)
from .pretrain import (
    CHECKPOINT_DIR, FacesVAEConfig, load_or_train_model, MNIST_TEST_BINARIZE_SEED, ModelSpec,
    REGISTRY, train_model, TrainResult,
)
from .profiles import (
    Budget, get_profile, Profile, profile_name, PROFILES,
)
from .tables import (
    table,
)
from .training import (
    batches, evaluate, fit, History, NonFiniteLossError, stepped_lr_epochs, stepped_lr_factor,
)
from .utils import (
    eval_mode, get_device, model_device, model_dtype, NotebookSetup, seed_everything,
    setup_notebook, show_source, STRICT_DTYPE, strict_placement, to_model, to_numpy,
)
from .widgets import (
    ae_interpolation_widget, attribute_edit_widget, denoising_widget, figure_widget,
    interpolation_widget, q_posterior_widget, temperature_widget,
)

from . import (  # noqa: E402  (the modules themselves, for __all__)
    analysis, architectures, attributes, autoregressive, checkpoints, claims, corruption, cvae, data,
    disentanglement, estimators, export,
    faces, latent, latent_arithmetic, losses, models, notebook, plotting, ppca, pretrain, priors, profiles, tables,
    training, utils, widgets,
)

_MODULES = (analysis, architectures, attributes, autoregressive, checkpoints, claims, corruption, cvae, data,
            disentanglement, estimators, export, faces, latent, latent_arithmetic, losses, models, notebook, plotting, ppca,
            pretrain, priors, profiles, tables, training, utils, widgets)
#: every module's ``__all__``, and nothing else: a name is public in one place, its module
__all__ = sorted(name for module in _MODULES for name in module.__all__)
