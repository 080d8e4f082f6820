//! Picking the next token from the model's logits on the host (burn's `topk` is not available
//! on WebGPU), reproducibly from a seed: greedy, temperature, top-k, top-p; and the
//! probabilities a trace shows.

use rand::{Rng, rngs::StdRng};

use super::GenerateOptions;
use crate::data::vocab::Vocab;

/// Extra candidates kept for the top list, since special tokens (not characters) are skipped.
const SPECIALS_ROOM: usize = 4;


/// softmax(logits)[index].
pub(super) fn softmax_at(logits: &[f32], index: usize) -> f32 {
    let top = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = logits.iter().filter(|l| l.is_finite()).map(|&l| ((l - top) as f64).exp()).sum();
    (((logits[index] - top) as f64).exp() / total) as f32
}

/// The `k` most likely characters under softmax(logits).
pub(super) fn top_probabilities(logits: &[f32], vocab: &Vocab, k: usize) -> Vec<(char, f32)> {
    let top = logits.iter().copied().filter(|l| l.is_finite()).fold(f32::NEG_INFINITY, f32::max);
    let total: f64 = logits.iter().filter(|l| l.is_finite()).map(|&l| ((l - top) as f64).exp()).sum();
    let mut ranked: Vec<(usize, f32)> = logits.iter().copied().enumerate().filter(|(_, l)| l.is_finite()).collect();
    // Only the top k need ordering: select them in linear time, then sort those.
    let by_score = |a: &(usize, f32), b: &(usize, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if ranked.len() > k + SPECIALS_ROOM {
        ranked.select_nth_unstable_by(k + SPECIALS_ROOM, by_score);
        ranked.truncate(k + SPECIALS_ROOM);
    }
    ranked.sort_by(by_score);
    ranked
        .into_iter()
        .filter_map(|(t, l)| vocab.char_of(t).map(|c| (c, (((l - top) as f64).exp() / total) as f32)))
        .take(k)
        .collect()
}

/// Picks a token from masked logits (masked entries are -inf); `None` when no entry is finite.
pub(super) fn sample(logits: &[f32], options: &GenerateOptions, rng: &mut StdRng) -> Option<usize> {
    let mut ranked: Vec<(usize, f32)> =
        logits.iter().copied().enumerate().filter(|(_, l)| l.is_finite()).collect();
    // Stable sort: equal logits keep vocabulary order, so greedy picks the lowest id.
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    if ranked.is_empty() || options.temperature == 0.0 {
        return ranked.first().map(|r| r.0);
    }
    if options.top_k > 0 {
        ranked.truncate(options.top_k);
    }
    let top = ranked[0].1;
    let mut probs: Vec<f64> =
        ranked.iter().map(|(_, l)| (((l - top) / options.temperature) as f64).exp()).collect();
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
    if options.top_p > 0.0 && options.top_p < 1.0 {
        let mut mass = 0.0;
        let keep = probs.iter().take_while(|&&p| {
            let before = mass;
            mass += p;
            before < options.top_p as f64
        });
        let keep = keep.count().max(1);
        probs.truncate(keep);
    }
    let total: f64 = probs.iter().sum();
    let mut draw = rng.random::<f64>() * total;
    for (i, p) in probs.iter().enumerate() {
        draw -= p;
        if draw <= 0.0 {
            return Some(ranked[i].0);
        }
    }
    Some(ranked[probs.len() - 1].0)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn sampling_respects_masks_top_k_and_greedy() {
        let logits = [f32::NEG_INFINITY, 1.0, 3.0, 2.0, f32::NEG_INFINITY];
        let mut rng = StdRng::seed_from_u64(1);
        let greedy = GenerateOptions { temperature: 0.0, ..Default::default() };
        assert_eq!(sample(&logits, &greedy, &mut rng), Some(2));
        assert_eq!(sample(&[f32::NEG_INFINITY; 3], &greedy, &mut rng), None);
        let top2 = GenerateOptions { temperature: 5.0, top_k: 2, top_p: 1.0, ..Default::default() };
        for _ in 0..200 {
            let t = sample(&logits, &top2, &mut rng);
            assert!(t == Some(2) || t == Some(3), "{t:?}");
        }
        let nucleus = GenerateOptions { temperature: 1.0, top_p: 0.5, ..Default::default() };
        for _ in 0..200 {
            assert_eq!(sample(&logits, &nucleus, &mut rng), Some(2));
        }
    }
}
