//! Reading tensors back to the host without blocking (the browser cannot block on the GPU),
//! and the one error that can give. Beside `text`, the bottom layer: it uses nothing else in
//! the crate.

use burn::tensor::Tensor;

/// A tensor could not be read back from its device.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("reading a result back from the device failed: {0}")]
pub struct ReadError(pub String);

/// Reads a tensor's values to the host without blocking (required in the browser).
pub async fn read_values<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, ReadError> {
    let read_error = |e: &dyn std::fmt::Debug| ReadError(format!("{e:?}"));
    let data = t.into_data_async().await.map_err(|e| read_error(&e))?;
    // `into_vec` moves the buffer out where it can (a fresh CPU tensor): no copy.
    data.try_into_vec::<f32>().map_err(|e| read_error(&e))
}

/// Reads a one-element tensor without blocking (required in the browser).
pub async fn read_scalar(t: Tensor<1>) -> Result<f32, ReadError> {
    t.into_scalar_async::<f32>().await.map_err(|e| ReadError(format!("{e:?}")))
}
