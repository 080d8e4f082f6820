//! Choosing the device in the browser: WebGPU when `navigator.gpu` gives an adapter, else
//! burn's CPU backend. WebGPU must be initialised asynchronously, once per page/worker.

use std::cell::RefCell;

use burn::tensor::Device;
use wasm_bindgen::JsValue;

thread_local! {
    /// The WebGPU device and its description, initialised at most once.
    static WEBGPU: RefCell<Option<Result<(Device, String), String>>> = const { RefCell::new(None) };
}

/// Whether this global scope (window or worker) exposes `navigator.gpu`.
fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("navigator"))
        .and_then(|nav| js_sys::Reflect::get(&nav, &JsValue::from_str("gpu")))
        .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
        .unwrap_or(false)
}

/// `preference`: "auto" (WebGPU if possible), "webgpu" (same, but say why not), or "cpu".
/// Returns the device, its description, and why WebGPU was not used (if it was not).
pub async fn open(preference: &str) -> (Device, String, Option<String>) {
    if preference == "cpu" {
        return (Device::flex(), "cpu".into(), None);
    }
    match webgpu().await {
        Ok((device, name)) => (device, name, None),
        Err(why) => (Device::flex(), "cpu".into(), Some(why)),
    }
}

async fn webgpu() -> Result<(Device, String), String> {
    if let Some(done) = WEBGPU.with(|w| w.borrow().clone()) {
        return done;
    }
    let result = if has_navigator_gpu() {
        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => Ok((device, format!("webgpu: {}", describe(&setup.adapter.get_info())))),
            Err(e) => Err(format!("WebGPU is present but no adapter could be used ({e})")),
        }
    } else {
        Err("this browser has no WebGPU (navigator.gpu is missing)".to_string())
    };
    WEBGPU.with(|w| *w.borrow_mut() = Some(result.clone()));
    result
}

/// Browsers may hide the adapter's name; fall back to its driver or kind.
fn describe(info: &burn::tensor::wgpu::wgpu::AdapterInfo) -> String {
    [&info.name, &info.driver, &info.driver_info]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| format!("{:?} adapter", info.device_type))
}
