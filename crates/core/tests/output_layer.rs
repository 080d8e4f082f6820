//! The hand-worked output-layer gradients against burn's autodiff of the same loss.
mod common;

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use shige_core::training::{masked_cross_entropy, output_layer_grads};

fn max_abs_diff(a: Tensor<2>, b: Tensor<2>) -> f32 {
    (a - b).abs().max().into_scalar::<f32>()
}

fn check(device: &Device) {
    let (batch, t_len, h, v) = (3, 4, 5, 13);
    let n = batch * t_len;
    let rnd = |shape: [usize; 2], scale: f64| Tensor::<2>::random(shape, Distribution::Uniform(-scale, scale), device);
    let (hidden, weight, bias) = (rnd([n, h], 1.0), rnd([h, v], 2.0), rnd([1, v], 1.0));
    let target_ids: Vec<i64> = (0..n as i64).map(|i| (i * 7 + 3) % v as i64).collect();
    let targets = Tensor::<2, Int>::from_data(TensorData::new(target_ids, [batch, t_len]), device);
    // The last poem is one character shorter: its final position is PAD and must not count.
    let mask_values: Vec<f32> = (0..n).map(|i| if i == n - 1 { 0.0 } else { 1.0 }).collect();
    let mask = Tensor::<2>::from_data(TensorData::new(mask_values, [batch, t_len]), device);
    let tokens = n - 1;

    // Reference: autodiff through log-softmax and gather.
    let [h_t, w_t, b_t] = [&hidden, &weight, &bias].map(|t| t.clone().autodiff().require_grad());
    let logits = (h_t.clone().matmul(w_t.clone()) + b_t.clone()).reshape([batch, t_len, v]);
    let loss = masked_cross_entropy(logits, targets.clone(), mask.clone(), tokens);
    let grads = loss.clone().backward();

    let out = output_layer_grads(
        hidden,
        weight,
        bias,
        targets.reshape([n, 1]),
        mask.reshape([n, 1]).div_scalar(tokens as f32),
    );
    let loss_diff = (out.loss.into_scalar::<f32>() - loss.inner().into_scalar::<f32>()).abs();
    assert!(loss_diff < 1e-5, "loss differs by {loss_diff}");
    for (name, mine, reference) in [
        ("hidden", out.d_hidden, h_t.grad(&grads)),
        ("weight", out.d_weight, w_t.grad(&grads)),
        ("bias", out.d_bias, b_t.grad(&grads)),
    ] {
        let diff = max_abs_diff(mine, reference.expect("tracked"));
        assert!(diff < 1e-5, "d_{name} differs by {diff}");
    }
}

#[test]
fn hand_worked_output_gradients_match_autodiff_on_cpu() {
    check(&common::cpu());
}

#[test]
fn hand_worked_output_gradients_match_autodiff_on_wgpu() {
    if let Some(device) = common::wgpu() {
        check(&device);
    }
}
