"""The numba kernels, compiled twins of numpy_set's references, under the same names (see minicnn.kernels).

minicnn.backend.active_kernels() returns this module while the "numba" backend is active; it is
imported only then, since numba is optional.
"""
from minicnn.kernels.batchnorm_numba import channel_grad_sums as batchnorm_grad_sums
from minicnn.kernels.batchnorm_numba import channel_stats as batchnorm_stats
from minicnn.kernels.batchnorm_numba import input_gradient as batchnorm_input_gradient
from minicnn.kernels.batchnorm_numba import scale_shift as batchnorm_scale_shift
from minicnn.kernels.bias_numba import add_bias
from minicnn.kernels.im2col_numba import col2im, im2col
from minicnn.kernels.matmul_threads import stacked_matmul
from minicnn.kernels.pool_numba import maxpool, maxpool_backward, maxpool_forward
from minicnn.kernels.relu_numba import relu_backward, relu_forward
from minicnn.kernels.winograd_numba import filter_transform as winograd_filter_transform
from minicnn.kernels.winograd_numba import filter_transform_adjoint as winograd_filter_transform_adjoint
from minicnn.kernels.winograd_numba import input_transform as winograd_input_transform
from minicnn.kernels.winograd_numba import input_transform_adjoint as winograd_input_transform_adjoint
from minicnn.kernels.winograd_numba import output_transform as winograd_output_transform
from minicnn.kernels.winograd_numba import output_transform_adjoint as winograd_output_transform_adjoint
