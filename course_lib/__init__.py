"""course_lib: the shared code of the course on autoencoders and VAEs.

Import it as ``import course_lib as cl``; importing has no side effects and is
cheap: each name below is imported from its module on first use. Each module
points back to the chapter that teaches it.
"""

from importlib import import_module

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "analysis": ["code_sensitivity", "code_sparsity", "distance_distortion", "fraction_within",
                 "jacobian_norms", "pairwise_sq_distances", "pca_fit", "pca_reconstruct", "principal_angles"],
    "corruption": ["CORRUPTIONS", "block_mask", "corrupt", "gaussian_blur", "gaussian_noise", "mask_pixels",
                   "random_corruption",
                   "salt_and_pepper"],
    "data": ["DATASETS", "DataUnavailableError", "ImageData", "data_root", "load_images",
             "prepare", "swiss_roll", "swiss_roll_sampler"],
    "losses": ["ae_loss", "bernoulli_log_likelihood", "elbo", "gaussian_kl", "gaussian_kl_diag",
               "gaussian_log_likelihood", "iwae_bound", "log_normal_diag", "squared_error",
               "sparsity_penalty", "top_k_codes", "encoder_jacobian", "contractive_penalty", "sparse_ae_loss",
               "contractive_ae_loss", "denoising_ae_loss"],
    "models": ["AEOutput", "Autoencoder", "VAEOutput", "linear_autoencoder", "mlp", "mlp_autoencoder",
               "reparameterize"],
    "plotting": ["image_grid", "plot_history", "scatter2d"],
    "profiles": ["PROFILES", "Budget", "Profile", "get_profile", "profile_name"],
    "training": ["History", "NonFiniteLossError", "batches", "evaluate", "fit"],
    "widgets": ["decode_interpolation", "denoise", "denoising_widget", "draw_denoising", "draw_interpolation",
                "figure_widget", "interpolation_widget"],
    "utils": ["NotebookSetup", "get_device", "seed_everything", "setup_notebook", "show_source"],
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
