//! Choosing the device in the browser: WebGPU when `navigator.gpu` gives a hardware adapter,
//! else burn's CPU backend. A software WebGPU adapter (SwiftShader: the GPU emulated on the CPU)
//! trains ~25x slower than the CPU backend, so "auto" passes it over; "webgpu" insists.
//! WebGPU must be initialised asynchronously, once per page/worker.

use std::cell::RefCell;

use burn::tensor::Device;
#[cfg(feature = "webgpu")]
use wasm_bindgen::JsValue;

thread_local! {
    /// The WebGPU device and its description, initialised at most once.
    static WEBGPU: RefCell<Option<Result<WebGpu, String>>> = const { RefCell::new(None) };
}

/// Whether this global scope (window or worker) exposes `navigator.gpu`.
#[cfg(feature = "webgpu")]
fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("navigator"))
        .and_then(|nav| js_sys::Reflect::get(&nav, &JsValue::from_str("gpu")))
        .map(|gpu| !gpu.is_undefined() && !gpu.is_null())
        .unwrap_or(false)
}

#[derive(Clone)]
struct WebGpu {
    device: Device,
    name: String,
    /// The adapter is the CPU pretending to be a GPU.
    software: bool,
}

/// The device training runs on, as the page describes it.
pub struct Opened {
    pub device: Device,
    /// `"webgpu: <adapter>"` or `"cpu"`.
    pub name: String,
    /// Why WebGPU was not used, when it was wanted but missing or passed over.
    pub fallback_reason: Option<String>,
    /// WebGPU was there but only as a software adapter, so "auto" chose the CPU.
    pub skipped_software_webgpu: bool,
}

/// `preference`: "auto" (a hardware WebGPU adapter if there is one, else the CPU), "webgpu"
/// (any WebGPU adapter, else the CPU) or "cpu".
pub async fn open(preference: &str) -> Opened {
    let cpu = |fallback_reason, skipped_software_webgpu| Opened {
        device: Device::flex(),
        name: "cpu".into(),
        fallback_reason,
        skipped_software_webgpu,
    };
    if preference == "cpu" {
        return cpu(None, false);
    }
    match webgpu().await {
        Ok(gpu) if gpu.software && preference != "webgpu" => cpu(
            Some(format!(
                "this browser's WebGPU is a software adapter ({}) that runs on the CPU; burn's CPU \
                 backend trains much faster here (choose Backend: WebGPU to use it anyway)",
                gpu.name
            )),
            true,
        ),
        Ok(gpu) => Opened { device: gpu.device, name: gpu.name, fallback_reason: None, skipped_software_webgpu: false },
        Err(why) => cpu(Some(why), false),
    }
}

#[cfg(not(feature = "webgpu"))]
async fn webgpu() -> Result<WebGpu, String> {
    Err("this is the threaded CPU build, which has no WebGPU".to_string())
}

#[cfg(feature = "webgpu")]
async fn webgpu() -> Result<WebGpu, String> {
    if let Some(done) = WEBGPU.with(|w| w.borrow().clone()) {
        return done;
    }
    let result = if has_navigator_gpu() {
        match Device::wgpu_options().init_with_setup_async().await {
            Ok((device, setup)) => {
                let info = setup.adapter.get_info();
                let software = info.device_type == burn::tensor::wgpu::wgpu::DeviceType::Cpu;
                Ok(WebGpu { device, name: format!("webgpu: {}", describe(&info)), software })
            }
            Err(e) => Err(format!("WebGPU is present but no adapter could be used ({e})")),
        }
    } else {
        Err("this browser has no WebGPU (navigator.gpu is missing)".to_string())
    };
    WEBGPU.with(|w| *w.borrow_mut() = Some(result.clone()));
    result
}

/// Browsers may hide the adapter's name; fall back to its driver or kind.
#[cfg(feature = "webgpu")]
fn describe(info: &burn::tensor::wgpu::wgpu::AdapterInfo) -> String {
    [&info.name, &info.driver, &info.driver_info]
        .into_iter()
        .find(|s| !s.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| format!("{:?} adapter", info.device_type))
}
