//! The kernels' checks against their tensor-op references on the device the page opens, for
//! the browser tests: the fused GRU, the output layer's softmax and Adam.

use serde::Serialize;
use wasm_bindgen::prelude::*;

use crate::device;
use crate::errors::fail;

/// A kernel's check against its tensor-op reference, for the page: `{ backend, differences:
/// [[what, largest abs difference]…], dispatches: [kernel, tensorOps] }` (Adam's: `{ backend,
/// difference, normDifference, flags: [finite, nan], dispatches }`), or `{ backend }` alone
/// where the device has no such kernel.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct KernelReport {
    backend: String,
    differences: Option<Vec<(&'static str, f32)>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    difference: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    norm_difference: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    flags: Option<(f32, f32)>,
    dispatches: Option<(usize, usize)>,
}

/// The fused GRU's check (`gru`) or the output layer's on the device `backend` opens.
async fn kernel_report(backend: String, gru: bool) -> Result<JsValue, JsValue> {
    let opened = device::open(&backend).await;
    let check = if gru {
        shige_core::model::recurrent::check_gru_kernel(&opened.device).await
    } else {
        shige_core::kernels::output::check(&opened.device).await
    }
    .map_err(fail)?;
    let report = KernelReport { backend: opened.name, differences: check.as_ref().map(|c| c.differences.clone()), dispatches: check.map(|c| c.dispatches), ..Default::default() };
    Ok(serde_wasm_bindgen::to_value(&report)?)
}

/// The fused GRU against the tensor-op GRU on the device `backend` opens (for tests).
#[wasm_bindgen(js_name = gruKernelCheck)]
pub async fn gru_kernel_check(backend: String) -> Result<JsValue, JsValue> {
    kernel_report(backend, true).await
}

/// The output layer's softmax kernel against its tensor ops on the device `backend` opens (for
/// tests).
#[wasm_bindgen(js_name = outputKernelCheck)]
pub async fn output_kernel_check(backend: String) -> Result<JsValue, JsValue> {
    kernel_report(backend, false).await
}

/// Adam's kernels against their tensor ops on the device `backend` opens (for tests).
#[wasm_bindgen(js_name = adamKernelCheck)]
pub async fn adam_kernel_check(backend: String) -> Result<JsValue, JsValue> {
    let opened = device::open(&backend).await;
    let report = match shige_core::kernels::adam::check(&opened.device).await.map_err(fail)? {
        Some(c) => KernelReport {
            backend: opened.name,
            difference: Some(c.difference),
            norm_difference: Some(c.norm_difference),
            flags: Some(c.flags),
            dispatches: Some(c.dispatches),
            ..Default::default()
        },
        None => KernelReport { backend: opened.name, ..Default::default() },
    };
    Ok(serde_wasm_bindgen::to_value(&report)?)
}
