"""Parameterizations: what is optimized (raw pixels, a Fourier spectrum, a Deep Image Prior
generator, a Laplacian pyramid), each ``make(shape, ...) -> (params, image_fn)`` as in lucent,
registered by name."""
