//! Turning poems into padded, length-bucketed batches of token ids.

use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use super::corpus::{CleaningConfig, CleaningReport, Corpus, Poem};
use super::vocab::{BOS, EOS, PAD, Vocab};

/// Batches are formed inside windows of this many batches' worth of poems sorted by length,
/// so padding is small while batches still mix across the whole corpus.
const BUCKET_WINDOW: usize = 64;

/// A corpus as token ids: what training needs of it, shareable by several trainers (the
/// classroom's runs) once the text itself has been dropped.
#[derive(Debug, Clone)]
pub struct EncodedCorpus {
    pub vocab: Vocab,
    pub train: Vec<Vec<u32>>,
    pub validation: Vec<Vec<u32>>,
    /// How the text was cleaned and split (saved in checkpoints so a resume sees the same split).
    pub cleaning: CleaningConfig,
    pub report: CleaningReport,
}

impl EncodedCorpus {
    pub fn new(corpus: &Corpus, vocab: Vocab) -> Self {
        EncodedCorpus {
            train: encode_poems(&corpus.train, &vocab),
            validation: encode_poems(&corpus.validation, &vocab),
            vocab,
            cleaning: corpus.config.clone(),
            report: corpus.report.clone(),
        }
    }

    /// Characters (plus one EOS each) in the training split: one epoch's worth of targets.
    pub fn train_chars(&self) -> usize {
        self.train.iter().map(|p| p.len() + 1).sum()
    }
}

/// Poems as token ids (without BOS/EOS), encoded once.
pub fn encode_poems(poems: &[Poem], vocab: &Vocab) -> Vec<Vec<u32>> {
    poems
        .iter()
        .map(|p| p.content.iter().map(|&c| vocab.encode_char(c) as u32).collect())
        .collect()
}

/// One training batch on the host. Inputs are `[BOS, c1..cn]`, targets `[c1..cn, EOS]`,
/// both padded with PAD to the longest poem in the batch; `mask` is 1 on real targets.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub batch_size: usize,
    pub seq_len: usize,
    pub inputs: Vec<i32>,
    pub targets: Vec<i32>,
    pub mask: Vec<f32>,
    /// Real (unmasked) target tokens: characters plus one EOS per untruncated poem.
    pub tokens: usize,
}

impl Batch {
    /// Builds a batch; poems longer than `max_seq_len - 1` are truncated (and lose their EOS).
    pub fn new(poems: &[&[u32]], max_seq_len: usize) -> Self {
        let seq_len = poems.iter().map(|p| p.len() + 1).max().unwrap_or(1).min(max_seq_len.max(1));
        let size = poems.len() * seq_len;
        let (mut inputs, mut targets, mut mask) =
            (vec![PAD as i32; size], vec![PAD as i32; size], vec![0.0; size]);
        let mut tokens = 0;
        for (row, poem) in poems.iter().enumerate() {
            let at = row * seq_len;
            let sequence: Vec<i32> = std::iter::once(BOS as u32)
                .chain(poem.iter().copied())
                .chain(std::iter::once(EOS as u32))
                .map(|t| t as i32)
                .collect();
            let n = (sequence.len() - 1).min(seq_len);
            inputs[at..at + n].copy_from_slice(&sequence[..n]);
            targets[at..at + n].copy_from_slice(&sequence[1..=n]);
            mask[at..at + n].fill(1.0);
            tokens += n;
        }
        Batch { batch_size: poems.len(), seq_len, inputs, targets, mask, tokens }
    }

    /// Device tensors: inputs `[B, T]`, targets `[B, T]`, mask `[B, T]`.
    pub fn to_tensors(&self, device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2>) {
        let shape = [self.batch_size, self.seq_len];
        (
            Tensor::from_data(TensorData::new(self.inputs.clone(), shape), device),
            Tensor::from_data(TensorData::new(self.targets.clone(), shape), device),
            Tensor::from_data(TensorData::new(self.mask.clone(), shape), device),
        )
    }
}

/// The order of one epoch: lists of poem indices, each list one batch. Deterministic in
/// `(seed, epoch)`, so a resumed run replays exactly the batches it would have seen.
pub fn epoch_plan(lengths: &[usize], batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let batch_size = batch_size.max(1);
    let mut rng = StdRng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.shuffle(&mut rng);
    let mut batches: Vec<Vec<usize>> = Vec::new();
    for window in order.chunks_mut(batch_size * BUCKET_WINDOW) {
        window.sort_by_key(|&i| lengths[i]);
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

/// Validation batches: sorted by length, fixed order.
pub fn eval_plan(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order.chunks(batch_size.max(1)).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_shifts_targets_and_masks_padding() {
        let b = Batch::new(&[&[10, 11, 12], &[20]], 16);
        assert_eq!(b.seq_len, 4);
        let (bos, eos, pad) = (BOS as i32, EOS as i32, PAD as i32);
        assert_eq!(b.inputs, vec![bos, 10, 11, 12, bos, 20, pad, pad]);
        assert_eq!(b.targets, vec![10, 11, 12, eos, 20, eos, pad, pad]);
        assert_eq!(b.mask, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
        assert_eq!(b.tokens, 6);
    }

    #[test]
    fn long_poems_are_truncated_to_the_cap() {
        let b = Batch::new(&[&[10, 11, 12, 13, 14]], 3);
        assert_eq!(b.seq_len, 3);
        assert_eq!(b.inputs, vec![BOS as i32, 10, 11]);
        assert_eq!(b.targets, vec![10, 11, 12]);
        assert_eq!(b.tokens, 3);
    }

    #[test]
    fn epoch_plan_covers_every_poem_once_and_buckets_lengths() {
        let lengths: Vec<usize> = (0..1000).map(|i| 5 + (i * 7919) % 76).collect();
        let plan = epoch_plan(&lengths, 32, 1, 0);
        let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert_eq!(plan, epoch_plan(&lengths, 32, 1, 0));
        assert_ne!(plan, epoch_plan(&lengths, 32, 1, 1));
        // Bucketing: padding is a small share of the padded batch.
        let padded: usize = plan.iter().map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap()).sum();
        let real: usize = lengths.iter().sum();
        assert!((padded as f64) < real as f64 * 1.05, "padded {padded} real {real}");
    }
}
