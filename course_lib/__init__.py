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
from .checkpoints import (
    check_checkpoint, CheckpointMismatchError, load_or_train, Loaded, read_manifest,
    save_checkpoint, sha256_file,
)
from .corruption import (
    block_mask, corrupt, CORRUPTIONS, denoise, gaussian_blur, gaussian_noise, mask_pixels,
    random_corruption, salt_and_pepper,
)
from .cvae import (
    class_swap, ConditionalVAE, cvae_interpolation, cvae_loss, CVAEConfig, temperature_samples,
)
from .data import (
    data_root, DATASETS, DataUnavailableError, ImageData, load_images, prepare, swiss_roll,
    swiss_roll_sampler,
)
from .estimators import (
    reparam_gradients, score_function_gradients,
)
from .export import (
    export_onnx, latent_slider, site_assets_dir,
)
from .faces import (
    CelebAUnavailableError, FACE_ATTRIBUTES, FaceAttributes, load_celeba, make_faces,
    render_faces, sample_face_attributes,
)
from .faces_models import (
    attribute_loss, AttributeRegressor, bernoulli_vae_loss, conv_vae, FacesVAEConfig,
    gaussian_vae_loss, ImageVAE, predict_attributes, r2_scores, train_attribute_regressor,
    train_faces_vae,
)
from .latent import (
    active_units, decode_interpolation, encode_dataset, iwae_log_likelihood, iwae_nll,
    knn_accuracy, NLLEstimate, rate_distortion_figure, Silhouette, silhouette, tsne_2d,
)
from .latent_arithmetic import (
    attribute_vector, class_means, decode_images, edit, edit_many,
)
from .losses import (
    ae_loss, bernoulli_log_likelihood, contractive_ae_loss, contractive_penalty,
    denoising_ae_loss, elbo, encoder_jacobian, gaussian_kl, gaussian_kl_diag,
    gaussian_log_likelihood, iwae_bound, log_normal_diag, sparse_ae_loss, sparsity_penalty,
    squared_error, top_k_codes, vae_loss,
)
from .models import (
    AEOutput, Autoencoder, BernoulliVAE, check_input, GaussianVAE, linear_autoencoder, mlp,
    mlp_autoencoder, reparameterize, VAEMixin, VAEOutput,
)
from .plotting import (
    image_grid, image_mosaic, plot_history, scatter2d,
)
from .ppca import (
    LinearGaussian, ppca_iwae, ppca_log_weights, q_posterior_terms,
)
from .profiles import (
    Budget, get_profile, Profile, profile_name, PROFILES,
)
from .pretrain import (
    CHECKPOINT_DIR, load_or_train_model, MNIST_TEST_BINARIZE_SEED, ModelSpec, REGISTRY,
    train_model, TrainResult,
)
from .training import (
    batches, evaluate, fit, History, NonFiniteLossError,
)
from .utils import (
    eval_mode, get_device, model_device, model_dtype, NotebookSetup, seed_everything,
    setup_notebook, show_source, STRICT_DTYPE, strict_placement, to_model, to_numpy,
)
from .vae_mnist import (
    bernoulli_ae_loss, conv_decoder, dense_decoder, dynamic_binarize, free_bits_kl,
    init_output_bias, kl_per_dim, kl_warmup, mlp_bernoulli_vae, mnist_vae_loss, MnistAE,
    MnistVAE, stepped_lr_epochs, stepped_lr_factor, thesis_model, VAEObjective,
)
from .widgets import (
    ae_interpolation_widget, attribute_edit_widget, denoising_widget, draw_denoising,
    draw_interpolation, draw_latent_interpolation, draw_q_vs_posterior, edit_figure,
    figure_widget, interpolation_picture, interpolation_widget, temperature_figure,
    temperature_widget,
)

from . import (  # noqa: E402  (the modules themselves, for __all__)
    analysis, checkpoints, corruption, cvae, data, estimators, export, faces, faces_models, latent,
    latent_arithmetic, losses, models, plotting, ppca, pretrain, profiles, training, utils, vae_mnist, widgets,
)

_MODULES = (analysis, checkpoints, corruption, cvae, data, estimators, export, faces, faces_models, latent,
            latent_arithmetic, losses, models, plotting, ppca, pretrain, profiles, training, utils, vae_mnist,
            widgets)
#: every module's ``__all__``, and nothing else: a name is public in one place, its module
__all__ = sorted(name for module in _MODULES for name in module.__all__)
