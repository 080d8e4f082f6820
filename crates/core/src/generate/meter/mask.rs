//! [`Mask`]: the token sets the meter allows, one bit a token, combined with ANDs and ORs.

/// A set of token ids, one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mask {
    bits: Vec<u64>,
    len: usize,
}

impl Mask {
    /// No token of a vocabulary of `len`.
    pub fn empty(len: usize) -> Mask {
        Mask { bits: vec![0; len.div_ceil(64)], len }
    }

    pub(super) fn insert(&mut self, token: usize) {
        self.bits[token / 64] |= 1 << (token % 64);
    }

    pub(super) fn remove(&mut self, token: usize) {
        self.bits[token / 64] &= !(1 << (token % 64));
    }

    /// Whether `token` is allowed (false beyond the vocabulary).
    pub fn contains(&self, token: usize) -> bool {
        token < self.len && self.bits[token / 64] >> (token % 64) & 1 == 1
    }

    /// How many tokens are allowed.
    pub fn count(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The allowed tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(|&t| self.contains(t))
    }

    /// Sets the logits of the tokens not allowed to -inf (`logits` indexed by token id).
    pub fn apply(&self, logits: &mut [f32]) {
        for (t, l) in logits.iter_mut().enumerate() {
            if !self.contains(t) {
                *l = f32::NEG_INFINITY;
            }
        }
    }

    pub(super) fn and(&mut self, other: &Mask) {
        self.bits.iter_mut().zip(&other.bits).for_each(|(a, b)| *a &= b);
    }

    pub(super) fn or(&mut self, other: &Mask) {
        self.bits.iter_mut().zip(&other.bits).for_each(|(a, b)| *a |= b);
    }
}
