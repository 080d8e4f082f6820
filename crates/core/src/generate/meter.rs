//! Meter-constrained decoding (issue 23, item 3): which characters may come next so that a
//! 五绝, 七绝, 五律 or 七律 written one character at a time passes [`crate::text::meter::check`].
//!
//! The pieces:
//! - [`MeterVocab`], built once per vocabulary (token id -> character): bit sets of the tokens
//!   whose 平水韵 readings include 平, those that include 仄, and those in each of the 30
//!   level-toned groups. Everything per step is a few ANDs and ORs of these ([`Mask`]).
//! - [`MeterPlan`]: a form, one of the four [`Pattern`]s and the level-toned groups the rhyme may
//!   take. It is immutable; what it asks of the next character follows from the characters
//!   written so far ([`MeterPlan::requirement`], [`MeterPlan::mask`]), so a decoder keeps no
//!   extra state besides the poem's characters.
//!
//! What a position requires (index `k` of the poem's characters, line `k / chars`, column
//! `k % chars`; `off` = 0 for 五言, 2 for 七言, where the five-character core starts):
//! - the 2nd, 4th (and 6th) characters and the last: the pattern's tone (二四六分明, the rhyme);
//! - the core's 3rd character of a 仄仄仄平平 line: 仄 (no 三平尾);
//! - the core's 3rd character of a 平平仄仄平 line: 平, but only when the core's 1st character
//!   already written has no level reading (孤平拗救 instead of 孤平). The 1st is left free, so an
//!   acrostic's or a start's first character never conflicts;
//! - every other position is free (一三五不论): any character of the vocabulary.
//!
//! At a fixed position a character must have a reading in the tone *in the 平水韵 table*;
//! characters the table lacks (啼), whose tone [`meter::tones`] only guesses from Mandarin, are
//! kept to free positions. Characters with several readings (看, 思) fit either tone, as the
//! checker accepts them.
//!
//! The rhyme: the rhyme positions are the even lines' last characters, and the first line's
//! when the pattern rhymes it. The first rhyme position takes any character of the plan's
//! level groups ([`MeterPlan::for_vocabulary`] keeps those with enough characters in the
//! vocabulary; [`MeterPlan::with_rhyme_groups`] narrows them to a group asked for). Each rhyme
//! character written narrows the open groups to those it is in ([`MeterPlan::open_rhyme_groups`]),
//! so all rhyme characters share every open group, and the checker's rhyme group is one of them.
//! With [`MeterPlan::distinct_rhymes`] (the default) no rhyme character repeats; the kept groups
//! have at least as many characters in the vocabulary as there are rhyme positions, so the mask
//! never runs empty.
//!
//! Given these, 粘 and 对 hold (they follow the 2nd characters, which are fixed), no line has
//! 孤平 or 三平尾, and the rhyme is one level-toned group: whatever the decoder picks among the
//! allowed characters, [`crate::text::meter::check`] passes (the tests decode 50 seeds of each form
//! with random picks, a start character and acrostics).
//!
//! # How a sampler uses it
//!
//! ```text
//! // once per poem (the vocabulary part can be cached per vocabulary):
//! let mv = MeterVocab::new((0..vocab.len()).map(|t| vocab.char_of(t)));
//! let start: Vec<char> = options.start.chars().filter(|&c| is_hanzi(c)).collect();
//! // (a start the form cannot hold, longer than its line, is the form's error: check it first)
//! let meter = match MeterPlan::for_start(form, &start, &acrostic, seed, &mv)? { // Err: vocabulary too small
//!     Some(plan) => plan,                        // the pattern the start fits, the seed picking among ties
//!     None => { /* error: the start breaks the meter (no pattern fits it) */ }
//! };
//! let mut verse: Vec<char> = Vec::new();                              // the poem's characters so far
//! // each step, only where the form's plan wants a character (not at `，`/`。`/EOS):
//! let mask = meter.mask(&mv, &verse).expect("the poem is not complete");
//! //   forced token (start prefix or acrostic): if !mask.contains(t) -> error (start breaks meter)
//! //   sampled token: logits[t] = -inf where !mask.contains(t)      (or mask.apply(&mut logits))
//! // after the token is chosen, if it is a character: verse.push(c)
//! ```
//!
//! Cost (release build, 9,175 tokens: every character of the built-in corpus):
//! [`MeterVocab::new`] about 1.3 ms, [`MeterPlan::mask`] about 0.2 µs a step.
//!
//! The modern rhyme option (`crate::text::rhyme`, by Mandarin finals) is a different choice: with the
//! meter on, this module places the rhyme, and the modern one stays off.

use std::collections::HashMap;

use crate::text::meter::{self, Form, Groups, LEVEL_GROUPS, LineKind, Pattern, Tone};

mod mask;
pub use mask::Mask;

/// Characters a poem line is made of (CJK ideographs), as the generator's own `is_hanzi`.
fn is_hanzi(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// The tone of a fixed position: a reading in the 平水韵 table (not a Mandarin guess).
fn table_allows(c: char, tone: Tone) -> bool {
    meter::groups(c).tones().allows(tone)
}

/// As the checker reads a free character for 孤平: some reading is level, or none is known.
fn fits_level(c: char) -> bool {
    let t = meter::tones(c);
    t.ping || !t.known()
}

/// A vocabulary seen by the meter: per-tone and per-rhyme-group token sets, computed once.
#[derive(Clone, Debug)]
pub struct MeterVocab {
    chars: Vec<Option<char>>,
    ids: HashMap<char, usize>,
    /// Tokens that are Chinese characters (what a free position takes).
    text: Mask,
    /// Tokens with a level (`[0]`) or oblique (`[1]`) reading in the 平水韵 table.
    tone: [Mask; 2],
    /// Tokens in each level-toned group.
    level: Vec<Mask>,
}

impl MeterVocab {
    /// From each token's character, in token-id order (`None` for special tokens; punctuation
    /// and other non-Chinese characters are never allowed by the meter).
    pub fn new(tokens: impl IntoIterator<Item = Option<char>>) -> MeterVocab {
        let chars: Vec<Option<char>> = tokens.into_iter().collect();
        let len = chars.len();
        let (mut text, mut ping, mut ze) = (Mask::empty(len), Mask::empty(len), Mask::empty(len));
        let mut level = vec![Mask::empty(len); LEVEL_GROUPS];
        let mut ids = HashMap::new();
        for (t, c) in chars.iter().enumerate() {
            let Some(c) = *c else { continue };
            ids.entry(c).or_insert(t);
            if !is_hanzi(c) {
                continue;
            }
            text.insert(t);
            let g = meter::groups(c);
            let tones = g.tones();
            if tones.ping {
                ping.insert(t);
            }
            if tones.ze {
                ze.insert(t);
            }
            for group in g.level().iter() {
                level[group].insert(t);
            }
        }
        MeterVocab { chars, ids, text, tone: [ping, ze], level }
    }

    /// A vocabulary of these characters, token id = index.
    pub fn from_chars(chars: &[char]) -> MeterVocab {
        MeterVocab::new(chars.iter().map(|&c| Some(c)))
    }

    /// The number of tokens.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The token of `c`.
    pub fn id(&self, c: char) -> Option<usize> {
        self.ids.get(&c).copied()
    }

    /// The character of `token`.
    pub fn char_of(&self, token: usize) -> Option<char> {
        self.chars.get(token).copied().flatten()
    }

    /// How many tokens are in level-toned group `group`.
    pub fn group_size(&self, group: usize) -> usize {
        self.level[group].count()
    }

    /// How many Chinese-character tokens have a table reading in `tone`.
    pub fn tone_size(&self, tone: Tone) -> usize {
        self.tone_mask(tone).count()
    }

    fn tone_mask(&self, tone: Tone) -> &Mask {
        &self.tone[usize::from(tone == Tone::Ze)]
    }
}

/// What the next character must be, from [`MeterPlan::requirement`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The tone its 平水韵 readings must include; `None` at a free position.
    pub tone: Option<Tone>,
    /// At a rhyme position: the level-toned groups it must be in (one is enough).
    pub rhyme: Option<Groups>,
    /// Characters it must not be (rhyme characters already used, with distinct rhymes).
    pub avoid: Vec<char>,
}

impl Requirement {
    /// Whether `c` meets it: what the masks allow.
    pub fn accepts(&self, c: char) -> bool {
        is_hanzi(c) && self.tone.is_none_or(|t| table_allows(c, t)) && self.rhymes(c)
    }

    /// Whether `c`, forced (a start or acrostic character), keeps the poem passing: as
    /// [`Requirement::accepts`], but a tone guessed from Mandarin counts, as the checker counts it.
    pub fn admits(&self, c: char) -> bool {
        is_hanzi(c) && self.tone.is_none_or(|t| meter::tones(c).allows(t)) && self.rhymes(c)
    }

    fn rhymes(&self, c: char) -> bool {
        self.rhyme.is_none_or(|open| meter::groups(c).0 & open.0 != 0) && !self.avoid.contains(&c)
    }
}

/// Why a plan cannot be used with a vocabulary.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MeterError {
    #[error("the vocabulary has no character with a {0:?} reading in the 平水韵, which the meter needs")]
    NoTone(Tone),
    #[error("the vocabulary has no character of the rhyme groups the meter may use")]
    NoRhyme,
}

/// The default least number of a rhyme group's characters in the vocabulary for
/// [`MeterPlan::for_vocabulary`] to offer it: small groups (三江, 十五咸) would leave the model few
/// natural endings.
pub const MIN_RHYME_CHARS: usize = 12;

/// A form, a pattern and the level-toned groups the rhyme may take: what each character of a
/// poem may be (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterPlan {
    pub form: Form,
    pub pattern: Pattern,
    kinds: Vec<LineKind>,
    /// The level-toned groups the rhyme may be in, before any rhyme character is written.
    rhyme_groups: Groups,
    /// No rhyme character repeats.
    pub distinct_rhymes: bool,
}

impl MeterPlan {
    /// `form` under `pattern`, any level-toned group for the rhyme, distinct rhyme characters.
    pub fn new(form: Form, pattern: Pattern) -> MeterPlan {
        assert!(matches!(form.chars, 5 | 7) && matches!(form.lines, 4 | 8), "meter plans are for 五绝, 七绝, 五律 and 七律");
        MeterPlan { form, pattern, kinds: pattern.line_kinds(form), rhyme_groups: Groups((1 << LEVEL_GROUPS) - 1), distinct_rhymes: true }
    }

    /// [`MeterPlan::new`] with the first of [`MeterPlan::best_patterns`].
    pub fn for_poem(form: Form, start: &[char], acrostic: &[char]) -> MeterPlan {
        MeterPlan::new(form, MeterPlan::best_patterns(form, start, acrostic)[0])
    }

    /// The patterns that best fit a start (the poem's first characters) and an acrostic (each
    /// line's first character), best first; two or more only where they tie (a sampler may pick
    /// among them at random). Ranked by:
    /// 1. the start characters a pattern does not allow (2nd character of the wrong tone, …);
    /// 2. the start and acrostic characters at free positions whose tone differs from the
    ///    pattern's (a 仄 first character of a 七绝 fits 仄起, whose line opens 仄仄平平);
    /// 3. the usual choice, as the checker prefers it: 七言 rhyme the first line, 五言 not.
    pub fn best_patterns(form: Form, start: &[char], acrostic: &[char]) -> Vec<Pattern> {
        let ranked = MeterPlan::ranked_patterns(form, start, acrostic);
        let best = ranked[0].0;
        ranked.into_iter().filter(|r| r.0 == best).map(|r| r.1).collect()
    }

    /// The four patterns by [`MeterPlan::best_patterns`]'s ranking, best first (ties in
    /// [`Pattern::ALL`]'s order), each with its score: (start characters it does not allow, free
    /// characters off its tones, not the usual choice).
    fn ranked_patterns(form: Form, start: &[char], acrostic: &[char]) -> Vec<((usize, usize, bool), Pattern)> {
        let score = |pattern: Pattern| {
            let plan = MeterPlan::new(form, pattern);
            let start = &start[..start.len().min(plan.len())];
            let hard = (0..start.len()).filter(|&i| !plan.admits(&start[..i], start[i])).count();
            let tones = pattern.tones(form);
            let mismatch = |k: usize, c: char| {
                let t = meter::tones(c);
                t.known() && !t.allows(tones[k / form.chars][k % form.chars])
            };
            let free_start = (0..start.len()).filter(|&k| plan.slot_tone(k).is_none() && mismatch(k, start[k])).count();
            let free_acrostic = acrostic
                .iter()
                .take(form.lines)
                .enumerate()
                .filter(|&(line, &c)| line * form.chars >= start.len() && mismatch(line * form.chars, c))
                .count();
            (hard, free_start + free_acrostic, pattern.first_line_rhymes != (form.chars == 7))
        };
        let mut ranked: Vec<_> = Pattern::ALL.into_iter().map(|p| (score(p), p)).collect();
        ranked.sort_by_key(|r| r.0);
        ranked
    }

    /// The plan a poem opening with `start` (and with `acrostic`) is written by, for `vocab`:
    /// of the patterns the start fits, the best ones first (where several tie, `seed` picks
    /// which leads, so seeds cover them all), then the others, the first whose rhyme groups kept
    /// for the vocabulary ([`MeterPlan::for_vocabulary`]) still admit the start. A start whose
    /// first line rhymes in a group the vocabulary has few characters of (三江) thus falls to the
    /// 首句不入韵 pattern where its last character also reads oblique; where no pattern does, the
    /// plan keeps the groups the start's rhyme characters chose, however few characters they
    /// have. `Ok(None)` when no pattern fits the start at all (a 古绝's lines): the start breaks
    /// the meter.
    pub fn for_start(form: Form, start: &[char], acrostic: &[char], seed: u64, vocab: &MeterVocab) -> Result<Option<MeterPlan>, MeterError> {
        let ranked = MeterPlan::ranked_patterns(form, start, acrostic);
        let fitting: Vec<Pattern> = ranked.iter().filter(|r| r.0.0 == 0).map(|r| r.1).collect();
        if fitting.is_empty() {
            return Ok(None);
        }
        let ties = ranked.iter().filter(|r| r.0 == ranked[0].0).count();
        let mut order = fitting.clone();
        order[..ties].rotate_left((seed % ties as u64) as usize);
        for &pattern in &order {
            let plan = MeterPlan::new(form, pattern).for_vocabulary(vocab)?;
            if plan.first_break(start).is_none() {
                return Ok(Some(plan));
            }
        }
        let plan = MeterPlan::new(form, order[0]);
        let chosen = plan.open_rhyme_groups(start);
        Ok(Some(plan.with_rhyme_groups(chosen).for_vocabulary(vocab)?).filter(|plan| plan.first_break(start).is_none()))
    }

    /// Only these level-toned groups for the rhyme (e.g. one group asked for). Call it before
    /// [`MeterPlan::for_vocabulary`], which makes sure the vocabulary has enough of them.
    pub fn with_rhyme_groups(mut self, groups: Groups) -> MeterPlan {
        self.rhyme_groups = Groups(self.rhyme_groups.0 & groups.level().0);
        self
    }

    /// Keeps the rhyme groups with at least [`MIN_RHYME_CHARS`] characters in the vocabulary
    /// (and at least one per rhyme position, with distinct rhymes). Falls back to the groups with
    /// enough for the rhyme positions, then (repeating rhyme characters) to any group the
    /// vocabulary has. Fails where the vocabulary lacks a tone or every rhyme group.
    pub fn for_vocabulary(self, vocab: &MeterVocab) -> Result<MeterPlan, MeterError> {
        self.for_vocabulary_with(vocab, MIN_RHYME_CHARS)
    }

    /// [`MeterPlan::for_vocabulary`] with another least group size.
    pub fn for_vocabulary_with(mut self, vocab: &MeterVocab, min_chars: usize) -> Result<MeterPlan, MeterError> {
        for tone in [Tone::Ping, Tone::Ze] {
            if vocab.tone_size(tone) == 0 {
                return Err(MeterError::NoTone(tone));
            }
        }
        let rhymes = self.rhyme_positions().len();
        let with_at_least = |n: usize| Groups(self.rhyme_groups.iter().filter(|&g| vocab.group_size(g) >= n).fold(0, |acc, g| acc | 1 << g));
        let needed = if self.distinct_rhymes { rhymes } else { 1 };
        let mut kept = with_at_least(min_chars.max(needed));
        if kept.is_empty() {
            kept = with_at_least(needed);
        }
        if kept.is_empty() {
            kept = with_at_least(1);
            self.distinct_rhymes = false;
        }
        if kept.is_empty() {
            return Err(MeterError::NoRhyme);
        }
        self.rhyme_groups = kept;
        Ok(self)
    }

    /// The number of characters in the poem.
    pub fn len(&self) -> usize {
        self.form.chars * self.form.lines
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// Each line's type.
    pub fn line_kinds(&self) -> &[LineKind] {
        &self.kinds
    }

    /// The level-toned groups the rhyme may take before any rhyme character is written.
    pub fn rhyme_groups(&self) -> Groups {
        self.rhyme_groups
    }

    /// Whether character `index` of the poem ends a rhyming line.
    pub fn is_rhyme_position(&self, index: usize) -> bool {
        let (line, col) = (index / self.form.chars, index % self.form.chars);
        line < self.form.lines && col + 1 == self.form.chars && (line % 2 == 1 || line == 0 && self.pattern.first_line_rhymes)
    }

    /// The indices of the rhyme positions.
    pub fn rhyme_positions(&self) -> Vec<usize> {
        (0..self.len()).filter(|&k| self.is_rhyme_position(k)).collect()
    }

    /// The tone position `index` requires whatever was written before it (二四六分明, the line
    /// end, and the 3rd core character of a 仄仄仄平平 line); `None` where it is free or depends on
    /// the line's start (孤平, see [`MeterPlan::requirement`]).
    pub fn slot_tone(&self, index: usize) -> Option<Tone> {
        let n = self.form.chars;
        let (line, col) = (index / n, index % n);
        let kind = self.kinds[line];
        let off = n - 5;
        if col % 2 == 1 || col + 1 == n || kind == LineKind::D && col == off + 2 {
            Some(kind.tones(n)[col])
        } else {
            None
        }
    }

    /// The pattern as marks, `?` where a position is free: `?仄?平仄`, … (the 孤平 position of a
    /// 平平仄仄平 line shows `?`).
    pub fn marks(&self) -> Vec<String> {
        (0..self.form.lines)
            .map(|line| (0..self.form.chars).map(|col| self.slot_tone(line * self.form.chars + col).map_or('?', Tone::mark)).collect())
            .collect()
    }

    /// The level-toned groups still open for the rhyme after `written`: the plan's groups that
    /// every rhyme character written so far is in.
    pub fn open_rhyme_groups(&self, written: &[char]) -> Groups {
        written
            .iter()
            .enumerate()
            .filter(|&(k, _)| self.is_rhyme_position(k))
            .fold(self.rhyme_groups, |open, (_, &c)| Groups(open.0 & meter::groups(c).0))
    }

    /// What character `written.len()` must be, given the poem's characters so far (no
    /// punctuation); `None` once the poem is complete.
    pub fn requirement(&self, written: &[char]) -> Option<Requirement> {
        let index = written.len();
        if index >= self.len() {
            return None;
        }
        let n = self.form.chars;
        let (line, col) = (index / n, index % n);
        let off = n - 5;
        let mut tone = self.slot_tone(index);
        // 孤平: a 平平仄仄平 line whose core starts oblique needs a level 3rd (拗救).
        if self.kinds[line] == LineKind::B && col == off + 2 && !fits_level(written[line * n + off]) {
            tone = Some(Tone::Ping);
        }
        let (rhyme, avoid) = if self.is_rhyme_position(index) {
            let used = written.iter().enumerate().filter(|&(k, _)| self.is_rhyme_position(k)).map(|(_, &c)| c);
            (Some(self.open_rhyme_groups(written)), if self.distinct_rhymes { used.collect() } else { Vec::new() })
        } else {
            (None, Vec::new())
        };
        Some(Requirement { tone, rhyme, avoid })
    }

    /// Whether `c` may follow `written`.
    pub fn accepts(&self, written: &[char], c: char) -> bool {
        self.requirement(written).is_some_and(|r| r.accepts(c))
    }

    /// The first character of `start` (the poem's first characters, no punctuation) this plan
    /// does not admit, if any: a start that no pattern fits (a 古绝's lines) breaks the meter,
    /// and a sampler reports it before writing.
    pub fn first_break(&self, start: &[char]) -> Option<usize> {
        (0..start.len()).find(|&i| !self.admits(&start[..i], start[i]))
    }

    /// Whether `c`, forced by a start or an acrostic, may follow `written` (see
    /// [`Requirement::admits`]); a sampler reports a start that breaks the meter when not.
    pub fn admits(&self, written: &[char], c: char) -> bool {
        self.requirement(written).is_some_and(|r| r.admits(c))
    }

    /// The tokens of `vocab` that may follow `written` (the same as [`MeterPlan::accepts`] on
    /// each token's character); `None` once the poem is complete.
    pub fn mask(&self, vocab: &MeterVocab, written: &[char]) -> Option<Mask> {
        let r = self.requirement(written)?;
        let mut mask = vocab.text.clone();
        if let Some(tone) = r.tone {
            mask.and(vocab.tone_mask(tone));
        }
        if let Some(open) = r.rhyme {
            let mut rhyming = Mask::empty(vocab.len());
            for g in open.level().iter() {
                rhyming.or(&vocab.level[g]);
            }
            mask.and(&rhyming);
        }
        for c in r.avoid {
            if let Some(t) = vocab.id(c) {
                mask.remove(t);
            }
        }
        Some(mask)
    }
}
