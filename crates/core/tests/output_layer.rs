//! The hand-worked output-layer gradients (tensor ops, the fused CPU passes and the wgpu kernel)
//! against burn's autodiff of the same loss.
mod common;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use shige_core::kernels::output::output_layer_grads;
use shige_core::kernels::{Kernel, Route, route};
use shige_core::training::masked_cross_entropy;

fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

fn check(device: &Device, cpu: bool) {
    let (batch, t_len, h, v) = (3, 4, 5, 301); // more words than a workgroup has units
    let n = batch * t_len;
    let rnd = |shape: [usize; 2], scale: f64| Tensor::<2>::random(shape, Distribution::Uniform(-scale, scale), device);
    let (hidden, weight, bias) = (rnd([n, h], 1.0), rnd([h, v], 2.0), rnd([1, v], 1.0));
    let target_ids: Vec<i64> = (0..n as i64).map(|i| (i * 7 + 3) % v as i64).collect();
    let targets = Tensor::<2, Int>::from_data(TensorData::new(target_ids.clone(), [batch, t_len]), device);
    // The last poem is one character shorter: its final position is PAD and must not count.
    let mask_values: Vec<f32> = (0..n).map(|i| if i == n - 1 { 0.0 } else { 1.0 }).collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask_values.clone(), [batch, t_len]), device);
    let tokens = n - 1;

    // Reference: autodiff through log-softmax and gather.
    let [h_t, w_t, b_t] = [&hidden, &weight, &bias].map(|t| t.clone().autodiff().require_grad());
    let logits = (h_t.clone().matmul(w_t.clone()) + b_t.clone()).reshape([batch, t_len, v]);
    let loss = masked_cross_entropy(logits, targets.clone(), mask.clone(), tokens);
    let grads = loss.clone().backward();

    let mut outs = vec![("tensor ops", output_layer_grads(
        hidden.clone(),
        weight.clone(),
        bias.clone(),
        targets.reshape([n, 1]),
        mask.clone().reshape([n, 1]).div_scalar(tokens as f32),
    ))];
    let ids: Vec<i32> = target_ids.iter().map(|&t| t as i32).collect();
    let weights: Vec<f32> = mask_values.iter().map(|m| m / tokens as f32).collect();
    let reference_loss = loss.inner().into_scalar::<f32>();
    if cpu {
        // The fused passes on every core (kernels/output/cpu.rs), training's and evaluation's.
        let fused = common::block_on(shige_core::kernels::output::cpu::output_layer_grads(hidden.clone(), weight.clone(), bias.clone(), &ids, &weights));
        outs.push(("fused CPU", fused.unwrap()));
        let summed = common::block_on(shige_core::kernels::output::cpu::summed_nll(hidden.clone(), weight.clone(), bias.clone(), &ids, &mask_values)).unwrap();
        let diff = (summed / tokens as f64 - reference_loss as f64).abs();
        assert!(diff < 1e-5, "fused CPU evaluation: loss differs by {diff}");
    }
    if route(device, Kernel::Output) == Route::Cube {
        // The wgpu kernel (kernels/output/cube.rs).
        outs.push(("kernel", shige_core::kernels::output::cube::output_layer_grads(hidden, weight, bias, &ids, &weights)));
    }
    for (how, out) in outs {
        let loss_diff = (out.loss.into_scalar::<f32>() - reference_loss).abs();
        assert!(loss_diff < 1e-5, "{how}: loss differs by {loss_diff}");
        for (name, mine, reference) in [
            ("hidden", out.d_hidden, h_t.grad(&grads)),
            ("weight", out.d_weight, w_t.grad(&grads)),
            ("bias", out.d_bias, b_t.grad(&grads)),
        ] {
            let diff = max_abs_diff(mine, reference.expect("tracked"));
            assert!(diff < 1e-5, "{how}: d_{name} differs by {diff}");
        }
    }
}

#[test]
fn hand_worked_output_gradients_match_autodiff_on_cpu() {
    check(&common::cpu(), true);
}

/// (One wgpu test in this file: the dispatch counter counts every thread's launches.)
#[test]
fn hand_worked_output_gradients_match_autodiff_on_wgpu() {
    let Some(device) = common::wgpu() else { return };
    assert!(route(&device, Kernel::Output) == Route::Cube, "the kernel serves the wgpu device");
    check(&device, false);
    // The kernel against its tensor ops directly, and its dispatches.
    let result = common::block_on(shige_core::kernels::output::check(&device)).unwrap().expect("the kernel serves the wgpu device");
    for (what, diff) in &result.differences {
        assert!(*diff < 1e-5, "{what}: max abs diff {diff}");
    }
    let (kernel, tensor_ops) = result.dispatches;
    println!("output layer: kernel {kernel} vs tensor ops {tensor_ops} dispatches, differences {:?}", result.differences);
    assert!(kernel + 8 <= tensor_ops, "kernel {kernel} vs tensor ops {tensor_ops} dispatches");
}

