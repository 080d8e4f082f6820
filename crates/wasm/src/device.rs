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

/// The device training runs on, as the page describes it.
pub struct Opened {
    pub device: Device,
    /// `"webgpu: <adapter>"` or `"cpu"`.
    pub name: String,
    /// Why WebGPU was not used, when it was wanted but missing.
    pub fallback_reason: Option<String>,
}

/// `preference`: "auto" (WebGPU if possible, else the CPU) or "cpu".
pub async fn open(preference: &str) -> Opened {
    let cpu = |fallback_reason| Opened { device: Device::flex(), name: "cpu".into(), fallback_reason };
    if preference == "cpu" {
        return cpu(None);
    }
    match webgpu().await {
        Ok((device, name)) => Opened { device, name, fallback_reason: None },
        Err(why) => cpu(Some(why)),
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
