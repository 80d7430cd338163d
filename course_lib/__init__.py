"""course_lib: the shared code of the course on autoencoders and VAEs.

Import it as ``import course_lib as cl``; importing has no side effects and is
cheap: each name below is imported from its module on first use. Each module
points back to the chapter that teaches it.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "checkpoints": ["CheckpointMismatchError", "Loaded", "check_checkpoint", "load_or_train",
                    "read_manifest", "save_checkpoint", "sha256_file"],
    "cvae": ["CVAEConfig", "ConditionalVAE", "class_swap", "cvae_interpolation", "cvae_loss",
             "temperature_samples"],
    "analysis": ["code_sensitivity", "code_sparsity", "distance_distortion", "fraction_within",
                 "jacobian_norms", "pairwise_sq_distances", "pca_fit", "pca_reconstruct", "principal_angles"],
    "corruption": ["CORRUPTIONS", "block_mask", "corrupt", "gaussian_blur", "gaussian_noise", "mask_pixels",
                   "random_corruption", "salt_and_pepper"],
    "data": ["DATASETS", "DataUnavailableError", "ImageData", "data_root", "load_images",
             "prepare", "swiss_roll", "swiss_roll_sampler"],
    "export": ["export_onnx", "latent_slider", "site_assets_dir"],
    "losses": ["ae_loss", "bernoulli_log_likelihood", "elbo", "gaussian_kl", "gaussian_kl_diag",
               "gaussian_log_likelihood", "iwae_bound", "log_normal_diag", "squared_error", "vae_loss",
               "sparsity_penalty", "top_k_codes", "encoder_jacobian", "contractive_penalty", "sparse_ae_loss",
               "contractive_ae_loss", "denoising_ae_loss"],
    "models": ["AEOutput", "Autoencoder", "VAEOutput", "linear_autoencoder", "mlp", "mlp_autoencoder",
               "reparameterize", "check_input", "VAEMixin", "BernoulliVAE", "GaussianVAE"],
    "ppca": ["LinearGaussian", "ppca_iwae", "ppca_log_weights"],
    "estimators": ["reparam_gradients", "score_function_gradients"],
    "plotting": ["image_grid", "image_mosaic", "plot_history", "scatter2d"],
    "profiles": ["PROFILES", "Budget", "Profile", "get_profile", "profile_name"],
    "train": ["CHECKPOINT_DIR", "MNIST_TEST_BINARIZE_SEED", "REGISTRY", "TrainResult", "load_or_train_model",
              "train_model"],
    "training": ["History", "NonFiniteLossError", "batches", "evaluate", "fit"],
    "widgets": ["ae_interpolation_widget", "attribute_edit_widget", "decode_interpolation", "denoise",
                "denoising_widget", "draw_denoising", "draw_interpolation", "draw_latent_interpolation",
                "draw_q_vs_posterior", "edit_figure", "figure_widget", "interpolation_picture",
                "interpolation_widget", "q_posterior_terms", "temperature_figure", "temperature_widget"],
    "faces": ["FACE_ATTRIBUTES", "CelebAUnavailableError", "FaceAttributes", "load_celeba", "make_faces",
              "render_faces", "sample_face_attributes"],
    "faces_models": ["AttributeRegressor", "FacesVAEConfig", "ImageVAE", "attribute_loss",
                     "bernoulli_vae_loss", "conv_vae", "gaussian_vae_loss", "predict_attributes", "r2_scores",
                     "train_attribute_regressor", "train_faces_vae"],
    "latent_arithmetic": ["attribute_vector", "class_means", "decode_images", "edit", "edit_many",
                          "encode_mean"],
    "vae_mnist": ["MnistAE", "MnistVAE", "VAEObjective", "bernoulli_ae_loss", "conv_decoder",
                  "dense_decoder", "dynamic_binarize", "free_bits_kl", "kl_per_dim", "kl_warmup",
                  "thesis_model", "mnist_vae_loss"],
    "latent": ["Silhouette", "active_units", "encode_dataset", "iwae_log_likelihood", "iwae_nll", "NLLEstimate", "knn_accuracy",
               "rate_distortion_figure", "silhouette", "tsne_2d"],
    "utils": ["NotebookSetup", "STRICT_DTYPE", "eval_mode", "get_device", "model_device", "model_dtype", "seed_everything",
              "setup_notebook", "show_source", "strict_placement", "to_model", "to_numpy"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value  # cache: later look-ups skip this function
        return value
    raise AttributeError(f"module 'course_lib' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
