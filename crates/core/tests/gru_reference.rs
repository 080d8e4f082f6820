//! The GRU against a plain scalar implementation of PyTorch's `nn.GRU` formulas:
//!   r = σ(W_ir x + b_ir + W_hr h + b_hr)
//!   z = σ(W_iz x + b_iz + W_hz h + b_hz)
//!   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//!   h' = (1 − z) ⊙ n + z ⊙ h
mod common;

use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};
use shige_core::{ModelShape, PoemModelConfig};

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `w_ih` is `[I, 3H]` row-major (this crate's layout), gates r, z, n.
fn reference_layer(xs: &[Vec<f32>], w_ih: &[f32], w_hh: &[f32], b_ih: &[f32], b_hh: &[f32], h_size: usize) -> Vec<Vec<f32>> {
    let i_size = xs[0].len();
    let mut h = vec![0.0f32; h_size];
    let mut out = Vec::new();
    for x in xs {
        let proj = |v: &[f32], w: &[f32], b: &[f32], gate: usize, j: usize| {
            b[gate * h_size + j] + (0..v.len()).map(|k| v[k] * w[k * 3 * h_size + gate * h_size + j]).sum::<f32>()
        };
        let mut next = vec![0.0; h_size];
        for j in 0..h_size {
            let r = sigmoid(proj(x, w_ih, b_ih, 0, j) + proj(&h, w_hh, b_hh, 0, j));
            let z = sigmoid(proj(x, w_ih, b_ih, 1, j) + proj(&h, w_hh, b_hh, 1, j));
            let n = (proj(x, w_ih, b_ih, 2, j) + r * proj(&h, w_hh, b_hh, 2, j)).tanh();
            next[j] = (1.0 - z) * n + z * h[j];
        }
        assert_eq!(x.len(), i_size);
        h = next;
        out.push(h.clone());
    }
    out
}

#[test]
fn gru_matches_scalar_reference_on_random_weights() {
    check_against_reference(&common::cpu());
}

#[test]
fn gru_matches_scalar_reference_on_wgpu() {
    if let Some(device) = common::wgpu() {
        check_against_reference(&device);
    }
}

fn check_against_reference(device: &burn::tensor::Device) {
    let device = device.clone();
    let config = PoemModelConfig::new(11, ModelShape::new().with_embedding(6).with_hidden(5).with_layers(2));
    let mut rng = StdRng::seed_from_u64(3);
    let params: Vec<Vec<f32>> = config
        .param_shapes()
        .iter()
        .map(|(_, [r, c])| (0..r * c).map(|_| rng.random_range(-0.8f32..0.8)).collect())
        .collect();
    let tensors = config
        .param_shapes()
        .iter()
        .zip(&params)
        .map(|((_, shape), v)| Tensor::from_data(TensorData::new(v.clone(), *shape), &device))
        .collect();
    let model = config.from_params(tensors);

    let (batch, t_len) = (3, 7);
    let tokens: Vec<i32> = (0..batch * t_len).map(|_| rng.random_range(0..11)).collect();
    let input = Tensor::<2, Int>::from_data(TensorData::new(tokens.clone(), [batch, t_len]), &device);
    let (logits, last) = model.forward(input, None);
    let logits = logits.into_data().try_to_vec::<f32>().unwrap();
    let last = last.into_data().try_to_vec::<f32>().unwrap();

    let (e, h, v) = (6, 5, 11);
    let mut max_diff = 0.0f32;
    for b in 0..batch {
        let mut xs: Vec<Vec<f32>> =
            (0..t_len).map(|t| { let id = tokens[b * t_len + t] as usize; params[0][id * e..(id + 1) * e].to_vec() }).collect();
        for l in 0..2 {
            let p = &params[1 + 4 * l..5 + 4 * l];
            xs = reference_layer(&xs, &p[0], &p[1], &p[2], &p[3], h);
            for j in 0..h {
                let got = last[(l * batch + b) * h + j];
                max_diff = max_diff.max((got - xs[t_len - 1][j]).abs());
            }
        }
        let (fc_w, fc_b) = (&params[9], &params[10]);
        for t in 0..t_len {
            for o in 0..v {
                let want = fc_b[o] + (0..h).map(|k| xs[t][k] * fc_w[k * v + o]).sum::<f32>();
                let got = logits[(b * t_len + t) * v + o];
                max_diff = max_diff.max((got - want).abs());
            }
        }
    }
    assert!(max_diff < 1e-4, "max abs diff {max_diff}");
}
