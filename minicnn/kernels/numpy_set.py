"""The NumPy kernels, the references, under the names the layers call them by (see minicnn.kernels).

minicnn.backend.active_kernels() returns this module while the "numpy" backend is active.
"""
from numpy import matmul as stacked_matmul   # the reference: NumPy's own, one product after another

from minicnn.kernels.batchnorm_numpy import channel_grad_sums as batchnorm_grad_sums
from minicnn.kernels.batchnorm_numpy import channel_stats as batchnorm_stats
from minicnn.kernels.batchnorm_numpy import input_gradient as batchnorm_input_gradient
from minicnn.kernels.batchnorm_numpy import scale_shift as batchnorm_scale_shift
from minicnn.kernels.bias_numpy import add_bias
from minicnn.kernels.im2col_numpy import col2im, im2col
from minicnn.kernels.pool_numpy import maxpool, maxpool_backward, maxpool_forward
from minicnn.kernels.relu_numpy import relu_backward, relu_forward
from minicnn.kernels.winograd_numpy import filter_transform as winograd_filter_transform
from minicnn.kernels.winograd_numpy import filter_transform_adjoint as winograd_filter_transform_adjoint
from minicnn.kernels.winograd_numpy import input_transform as winograd_input_transform
from minicnn.kernels.winograd_numpy import input_transform_adjoint as winograd_input_transform_adjoint
from minicnn.kernels.winograd_numpy import output_transform as winograd_output_transform
from minicnn.kernels.winograd_numpy import output_transform_adjoint as winograd_output_transform_adjoint
