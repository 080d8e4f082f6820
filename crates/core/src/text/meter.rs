//! 格律 of 近体诗: the tone pattern (平仄) and 平水韵 rhyme of 五绝, 七绝, 五律 and 七律.
//!
//! What this module holds:
//! - **The 平水韵** (the table, in `pingshui`, re-exported here): the 106 rhyme groups, each
//!   character's groups ([`groups`]) and tones ([`tones`]), and the neighbouring level-toned
//!   groups ([`neighbours`]).
//! - **The checker**, [`check`]: for a poem of 4 or 8 lines of 5 or 7 characters it picks, of the
//!   four standard patterns ([`Pattern`]: 平起 or 仄起, the first line rhyming or not), the one the
//!   poem follows or comes closest to, and reports in a [`MeterReport`]:
//!   - each position as required, free, broken or rescued under 一三五不论, 二四六分明: the 2nd,
//!     4th (and 6th) characters and the last are fixed; the 1st, 3rd (and 5th) are free except
//!     where 孤平 or 三平尾 would follow (the 五言 core's 1st character of a 平平仄仄平 line, its 3rd
//!     of a 仄仄仄平平 line);
//!   - 孤平 (a 平平仄仄平 line with one level tone left besides the rhyme) and 三平尾 (a line
//!     ending in three level tones) as faults of their own;
//!   - the accepted 拗句 ([`Ao`]): 孤平拗救 (仄平平仄平 in the line itself), a 仄仄平平仄 line
//!     whose 4th (or 3rd) character is oblique rescued by a level 3rd character in the next
//!     line (仄仄平仄仄 / 平平平仄平), and the special form 平平仄平仄 for 平平平仄仄;
//!   - 对 within each couplet and 粘 between couplets, by the lines' 2nd characters;
//!   - whether the rhyming lines end in one level-toned group: the even lines in the group, and
//!     the first line, where the pattern has it rhyme (a level ending), in the group or in a
//!     neighbouring one (首句借邻韵, by 王力's table of 邻韵: see [`neighbours`]). A first line
//!     rhyming in a far group is a fault ([`Fault::FirstLineOffRhyme`]); one that ends oblique
//!     does not rhyme (首句不入韵) and needs no group.
//!
//! Characters with several readings fit a position if any reading does. The package's table
//! lacks a few characters poets use (啼); for those the tone is guessed from Mandarin
//! ([`Tones::guessed`]), they rhyme with nothing, and a character with no reading at all at a
//! fixed position is a fault ([`Fault::Unknown`]), since it cannot be verified. Lines (seven-character ones are two
//! opposite characters and a five-character line) are named by the five-character types of
//! [`LineKind`].
//!
//! `rhyme`, beside it, is a different, modern check (中华新韵, by Mandarin finals) and stays as it is.

use super::verse_lines;

pub use super::pingshui::{GROUPS, Groups, LEVEL_GROUPS, Tone, Tones, characters, group_char, group_name, groups, neighbours, tones};

/// A form of regulated verse: 5 or 7 characters a line, 4 (绝句) or 8 (律诗) lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Form {
    pub chars: usize,
    pub lines: usize,
}

impl Form {
    /// 五绝, 七绝, 五律 or 七律.
    pub fn name(self) -> &'static str {
        match (self.chars, self.lines) {
            (5, 4) => "五绝",
            (7, 4) => "七绝",
            (5, _) => "五律",
            _ => "七律",
        }
    }
}

/// The four line types, by their five-character form (a seven-character line puts the two
/// opposite tones before it: 仄仄平平仄 -> 平平仄仄平平仄).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineKind {
    /// 仄仄平平仄 (七言 平平仄仄平平仄)
    A,
    /// 平平仄仄平 (七言 仄仄平平仄仄平)
    B,
    /// 平平平仄仄 (七言 仄仄平平平仄仄)
    C,
    /// 仄仄仄平平 (七言 平平仄仄仄平平)
    D,
}

impl LineKind {
    /// The pattern's tone at each of `chars` (5 or 7) positions.
    pub fn tones(self, chars: usize) -> Vec<Tone> {
        use Tone::{Ping as P, Ze as Z};
        let five = match self {
            LineKind::A => [Z, Z, P, P, Z],
            LineKind::B => [P, P, Z, Z, P],
            LineKind::C => [P, P, P, Z, Z],
            LineKind::D => [Z, Z, Z, P, P],
        };
        let mut line: Vec<Tone> = Vec::with_capacity(chars);
        if chars == 7 {
            line.extend([five[0].opposite(), five[1].opposite()]);
        }
        line.extend(five);
        line
    }

    /// Whether the line ends level-toned (rhymes).
    pub fn rhymes(self) -> bool {
        matches!(self, LineKind::B | LineKind::D)
    }

    /// The line's pattern as marks, e.g. `仄仄平平仄`.
    pub fn marks(self, chars: usize) -> String {
        self.tones(chars).into_iter().map(Tone::mark).collect()
    }
}

/// One of the four standard patterns of a poem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pattern {
    /// The tone of the first line's 2nd character: 平起 (`Ping`) or 仄起 (`Ze`).
    pub start: Tone,
    /// Whether the first line rhymes (首句入韵).
    pub first_line_rhymes: bool,
}

impl Pattern {
    /// The four patterns.
    pub const ALL: [Pattern; 4] = [
        Pattern { start: Tone::Ping, first_line_rhymes: false },
        Pattern { start: Tone::Ping, first_line_rhymes: true },
        Pattern { start: Tone::Ze, first_line_rhymes: false },
        Pattern { start: Tone::Ze, first_line_rhymes: true },
    ];

    /// The type of each line of `form`: 对 within a couplet, 粘 between couplets.
    pub fn line_kinds(self, form: Form) -> Vec<LineKind> {
        use LineKind::*;
        // The five-character type whose 2nd character has the start tone; seven-character
        // lines flip it (their 2nd character is the opposite of the five-character core's).
        let core_start = if form.chars == 7 { self.start.opposite() } else { self.start };
        let first = match (core_start, self.first_line_rhymes) {
            (Tone::Ze, false) => A,
            (Tone::Ze, true) => D,
            (Tone::Ping, false) => C,
            (Tone::Ping, true) => B,
        };
        let mut kinds = vec![first];
        for i in 1..form.lines {
            let previous = kinds[i - 1];
            kinds.push(if i % 2 == 1 {
                // 对: the couplet's second line ends level and contrasts with the first.
                if matches!(previous, A | D) { B } else { D }
            } else {
                // 粘: the next couplet opens (oblique ending) with the same 2nd character tone.
                if previous == B { C } else { A }
            });
        }
        kinds
    }

    /// The pattern's tones, line by line.
    pub fn tones(self, form: Form) -> Vec<Vec<Tone>> {
        self.line_kinds(form).into_iter().map(|k| k.tones(form.chars)).collect()
    }

    /// 平起首句入韵, 仄起首句不入韵, …
    pub fn name(self) -> String {
        format!("{}起首句{}入韵", self.start.mark(), if self.first_line_rhymes { "" } else { "不" })
    }
}

/// How a position came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Fixed by the pattern (二四六分明, the rhyme, or a 孤平/三平尾 exception), and the
    /// character has a reading in the tone.
    Required,
    /// Free under 一三五不论.
    Free,
    /// Fixed, and no reading of the character has the tone.
    Broken,
    /// Off the pattern as an accepted 拗句 allows (see [`Ao`]).
    Rescued,
    /// Fixed, and the character has no known reading (neither in the 平水韵 nor in Mandarin).
    Unknown,
}

/// One character of a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub ch: char,
    /// What the character can be read as.
    pub tones: Tones,
    /// The pattern's tone here.
    pub expected: Tone,
    pub status: Status,
}

/// An accepted 拗句 (irregular line with its remedy, 拗救), after 王力《诗词格律》.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ao {
    /// 孤平拗救: a 平平仄仄平 line with an oblique 1st character (七言: 3rd) and a level 3rd
    /// (七言: 5th) instead: 仄平平仄平.
    GuPingRescued,
    /// A 仄仄平平仄 line whose 4th character (七言: 6th; 大拗) or 3rd (七言: 5th; 小拗) is
    /// oblique, rescued by the next line. An unrescued 大拗 breaks the line; a 小拗 need not be
    /// rescued.
    RescuedByNextLine,
    /// The 平平仄仄平 line after such a line, with a level 3rd character (七言: 5th): 平平平仄平.
    RescuesPreviousLine,
    /// The special form 平平仄平仄 (七言 仄仄平平仄平仄) of a 平平平仄仄 line, 1st character
    /// (七言: 3rd) level.
    SpecialForm,
}

/// One line's result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineReport {
    pub kind: LineKind,
    pub positions: Vec<Position>,
    /// The 拗句 forms the line uses (empty for a regular line).
    pub ao: Vec<Ao>,
}

impl LineReport {
    /// The line's characters.
    pub fn text(&self) -> String {
        self.positions.iter().map(|p| p.ch).collect()
    }
}

/// 粘 or 对 between two adjacent lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// 对: a couplet's two lines have opposite 2nd characters.
    Dui,
    /// 粘: a couplet's second line and the next couplet's first have the same.
    Nian,
}

/// The relation between line `line` and line `line + 1`, by their 2nd characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Join {
    pub line: usize,
    pub kind: JoinKind,
    /// Whether some readings of the two characters make it hold.
    pub holds: bool,
}

/// The rhyme: the level-toned group the rhyming lines share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RhymeReport {
    /// The group most of the even lines' last characters share (level-toned), if any does.
    pub group: Option<usize>,
    /// Lines (0-based) whose last character is in `group`, the first line included if it is.
    pub lines: Vec<usize>,
    /// The neighbouring group the first line borrows its rhyme from (首句借邻韵), where the
    /// pattern has it rhyme and its last character is not in `group` but in a neighbour.
    pub borrowed: Option<usize>,
    /// Rhyming lines whose last character is not in `group`: even lines, and the first line
    /// where the pattern has it rhyme and it is in neither `group` nor a neighbour.
    pub off: Vec<usize>,
}

/// Something that keeps a poem from passing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A fixed position (0-based line and position) with no reading in the pattern's tone.
    Broken { line: usize, pos: usize },
    /// 孤平 in the line.
    GuPing { line: usize },
    /// 三平尾: the line ends in three level tones.
    SanPingWei { line: usize },
    /// A fixed position whose character has no known reading.
    Unknown { line: usize, pos: usize },
    /// 失对 between `line` and `line + 1`.
    ShiDui { line: usize },
    /// 失粘 between `line` and `line + 1`.
    ShiNian { line: usize },
    /// An even line that does not end in the rhyme group.
    OffRhyme { line: usize },
    /// The first line, which the pattern has rhyme (a level ending), ends in neither the rhyme
    /// group nor a neighbouring one (首句借邻韵 allows only those).
    FirstLineOffRhyme,
}

/// The 格律 of a poem, as [`check`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeterReport {
    pub form: Form,
    /// The pattern the poem follows or comes closest to.
    pub pattern: Pattern,
    pub lines: Vec<LineReport>,
    /// 对 and 粘 between each pair of adjacent lines (line 0-1 对, 1-2 粘, 2-3 对, …).
    pub joins: Vec<Join>,
    pub rhyme: RhymeReport,
    /// Everything that breaks the rules, in line order; empty when the poem passes.
    pub faults: Vec<Fault>,
}

impl MeterReport {
    /// Whether the poem is regular verse: pattern (with accepted 拗句), no 孤平 or 三平尾, 粘
    /// and 对, one level-toned rhyme group.
    pub fn passes(&self) -> bool {
        self.faults.is_empty()
    }

    /// The pattern's marks for each position, with `?` where it is free: `仄?平平仄` …
    pub fn marks(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|l| l.positions.iter().map(|p| if p.status == Status::Free { '?' } else { p.expected.mark() }).collect())
            .collect()
    }
}

/// Checks a 五绝, 七绝, 五律 or 七律 (lines split at ，。？！；). `None` when the poem is not
/// 4 or 8 lines of 5 or 7 characters.
pub fn check(poem: &str) -> Option<MeterReport> {
    let lines = verse_lines(poem)?;
    Some(check_lines(&lines))
}

/// Checks lines already split (4 or 8 of 5 or 7 characters; panics otherwise).
pub fn check_lines(lines: &[Vec<char>]) -> MeterReport {
    let form = Form { chars: lines[0].len(), lines: lines.len() };
    assert!(matches!(form.chars, 5 | 7) && matches!(form.lines, 4 | 8) && lines.iter().all(|l| l.len() == form.chars), "check_lines needs 4 or 8 lines of 5 or 7 characters");
    let first_end = *lines[0].last().expect("non-empty");
    // The first line rhymes where it ends in the group, or ends level only: a poet who ended it
    // level meant it to rhyme, and one off the group is reported as off the rhyme, not as a
    // level ending where 首句不入韵 wants an oblique one.
    let first_rhymes = rhyme(lines, false).group.is_some_and(|g| groups(first_end).contains(g)) || tones(first_end).only() == Some(Tone::Ping);
    // A first line rhyming in a far group counts against the patterns that rhyme it, so one
    // that lets it end oblique (首句不入韵; 看 reads either way) wins where it fits as well.
    let far = rhyme(lines, tones(first_end).ping).off.contains(&0);
    let first_line_fault = |p: Pattern| usize::from(p.first_line_rhymes && far);
    let best = Pattern::ALL
        .into_iter()
        .map(|p| (p, pattern_faults(lines, p).len() + first_line_fault(p)))
        .min_by_key(|&(p, faults)| (faults, p.first_line_rhymes != first_rhymes, p.first_line_rhymes != (form.chars == 7)))
        .expect("four patterns");
    check_with(lines, best.0)
}

/// Checks lines already split against one given pattern (panics unless 4 or 8 lines of 5 or 7
/// characters).
pub fn check_with(lines: &[Vec<char>], pattern: Pattern) -> MeterReport {
    let form = Form { chars: lines[0].len(), lines: lines.len() };
    assert!(matches!(form.chars, 5 | 7) && matches!(form.lines, 4 | 8) && lines.iter().all(|l| l.len() == form.chars), "check_with needs 4 or 8 lines of 5 or 7 characters");
    let kinds = pattern.line_kinds(form);
    let (reports, mut faults) = judge_lines(lines, &kinds);
    let mut joins = Vec::new();
    for i in 0..lines.len() - 1 {
        let (a, b) = (tones(lines[i][1]), tones(lines[i + 1][1]));
        let unknown = !a.known() || !b.known();
        let (kind, holds) = if i % 2 == 0 {
            (JoinKind::Dui, unknown || (a.ping && b.ze) || (a.ze && b.ping))
        } else {
            (JoinKind::Nian, unknown || (a.ping && b.ping) || (a.ze && b.ze))
        };
        joins.push(Join { line: i, kind, holds });
        if !holds {
            faults.push(if kind == JoinKind::Dui { Fault::ShiDui { line: i } } else { Fault::ShiNian { line: i } });
        }
    }
    // Only a level ending rhymes the first line; an oblique one under a rhyming pattern is
    // already a broken position.
    let first_rhymes = pattern.first_line_rhymes && tones(*lines[0].last().expect("non-empty")).ping;
    let rhyme = rhyme(lines, first_rhymes);
    faults.extend(rhyme.off.iter().map(|&line| if line == 0 { Fault::FirstLineOffRhyme } else { Fault::OffRhyme { line } }));
    faults.sort_by_key(|f| match *f {
        Fault::Broken { line, pos } | Fault::Unknown { line, pos } => (line, pos),
        Fault::GuPing { line } | Fault::SanPingWei { line } | Fault::ShiDui { line } | Fault::ShiNian { line } | Fault::OffRhyme { line } => (line, usize::MAX),
        Fault::FirstLineOffRhyme => (0, usize::MAX),
    });
    MeterReport { form, pattern, lines: reports, joins, rhyme, faults }
}

/// The faults of the lines alone under `pattern` (what picks the closest pattern).
fn pattern_faults(lines: &[Vec<char>], pattern: Pattern) -> Vec<Fault> {
    let form = Form { chars: lines[0].len(), lines: lines.len() };
    judge_lines(lines, &pattern.line_kinds(form)).1
}

/// Each line against its type, with 孤平, 三平尾 and the 拗句 that rescue.
fn judge_lines(lines: &[Vec<char>], kinds: &[LineKind]) -> (Vec<LineReport>, Vec<Fault>) {
    let n = lines[0].len();
    let off = n - 5; // the five-character core starts here
    let mut faults = Vec::new();
    let mut reports: Vec<LineReport> = lines
        .iter()
        .zip(kinds)
        .map(|(line, &kind)| {
            let expected = kind.tones(n);
            let positions = line
                .iter()
                .zip(&expected)
                .enumerate()
                .map(|(i, (&ch, &expected))| {
                    let t = tones(ch);
                    // 二四六分明 and the rhyme; 一三五不论.
                    let fixed = i % 2 == 1 || i == n - 1;
                    let status = match (fixed, t.known(), t.allows(expected)) {
                        (false, _, _) => Status::Free,
                        (true, false, _) => Status::Unknown,
                        (true, true, true) => Status::Required,
                        (true, true, false) => Status::Broken,
                    };
                    Position { ch, tones: t, expected, status }
                })
                .collect();
            LineReport { kind, positions, ao: Vec::new() }
        })
        .collect();
    for i in 0..reports.len() {
        let core = |r: &LineReport, j: usize| r.positions[off + j].tones;
        match reports[i].kind {
            LineKind::B => {
                // 孤平: the core's 1st character must be level, unless its 3rd is (拗救).
                let (first, third) = (core(&reports[i], 0), core(&reports[i], 2));
                if !first.fits(Tone::Ping) {
                    if third.fits(Tone::Ping) {
                        reports[i].positions[off].status = Status::Rescued;
                        reports[i].positions[off + 2].status = Status::Required;
                        reports[i].ao.push(Ao::GuPingRescued);
                    } else {
                        reports[i].positions[off].status = Status::Broken;
                        faults.push(Fault::GuPing { line: i });
                    }
                } else if !third.fits(Tone::Ping) {
                    reports[i].positions[off].status = Status::Required;
                }
            }
            LineKind::D => {
                // 三平尾: the core's 3rd character must be oblique.
                if core(&reports[i], 2).fits(Tone::Ze) {
                    reports[i].positions[off + 2].status = Status::Required;
                } else {
                    reports[i].positions[off + 2].status = Status::Broken;
                    faults.push(Fault::SanPingWei { line: i });
                }
            }
            LineKind::A => {
                // 仄仄平仄仄 (大拗, must be rescued) or 仄仄仄平仄 (小拗, may be): rescued by a
                // level 3rd character in the couplet's second line.
                let big = reports[i].positions[off + 3].status == Status::Broken;
                let small = !core(&reports[i], 2).fits(Tone::Ping);
                let rescuer = i % 2 == 0 && i + 1 < reports.len() && reports[i + 1].kind == LineKind::B && core(&reports[i + 1], 2).fits(Tone::Ping);
                if (big || small) && rescuer {
                    reports[i].positions[off + if big { 3 } else { 2 }].status = Status::Rescued;
                    reports[i].ao.push(Ao::RescuedByNextLine);
                    reports[i + 1].positions[off + 2].status = Status::Required;
                    reports[i + 1].ao.push(Ao::RescuesPreviousLine);
                }
            }
            LineKind::C => {
                // 平平仄平仄: the 3rd and 4th swapped, with a level 1st.
                if reports[i].positions[off + 3].status == Status::Broken
                    && core(&reports[i], 2).fits(Tone::Ze)
                    && core(&reports[i], 0).fits(Tone::Ping)
                {
                    reports[i].positions[off + 3].status = Status::Rescued;
                    reports[i].positions[off].status = Status::Required;
                    reports[i].ao.push(Ao::SpecialForm);
                }
            }
        }
        // 三平尾 on the other lines (it comes with a broken fixed position there).
        let tail = &reports[i].positions[n - 3..];
        if reports[i].kind != LineKind::D && tail.iter().all(|p| p.tones.known() && !p.tones.ze) {
            faults.push(Fault::SanPingWei { line: i });
        }
    }
    for (i, r) in reports.iter().enumerate() {
        for (pos, p) in r.positions.iter().enumerate() {
            let already = matches!(r.kind, LineKind::B if pos == off) && faults.contains(&Fault::GuPing { line: i })
                || matches!(r.kind, LineKind::D if pos == off + 2) && faults.contains(&Fault::SanPingWei { line: i });
            match p.status {
                Status::Broken if !already => faults.push(Fault::Broken { line: i, pos }),
                Status::Unknown => faults.push(Fault::Unknown { line: i, pos }),
                _ => {}
            }
        }
    }
    (reports, faults)
}

/// The level-toned group most even lines end in, and the lines in and out of it. The first
/// line counts as rhyming when it is in the group. Where `first_rhymes` (the pattern rhymes it
/// and it ends level) it must be in the group or borrow from a neighbour, and is off otherwise;
/// else it is never off.
fn rhyme(lines: &[Vec<char>], first_rhymes: bool) -> RhymeReport {
    let last = |i: usize| groups(*lines[i].last().expect("non-empty")).level();
    let even: Vec<usize> = (1..lines.len()).step_by(2).collect();
    let mut counts = [0usize; LEVEL_GROUPS];
    for &i in &even {
        for g in last(i).iter() {
            counts[g] += 1;
        }
    }
    // Most even lines; on a tie, the group the first line ends in, then the first in the book.
    let best = (0..LEVEL_GROUPS).filter(|&g| counts[g] > 0).max_by_key(|&g| (counts[g], last(0).contains(g), std::cmp::Reverse(g)));
    let Some(group) = best else {
        // No even lines share a group: there is nothing for the first line to rhyme with.
        return RhymeReport { group: None, lines: Vec::new(), borrowed: None, off: even };
    };
    let in_group = |i: usize| last(i).contains(group);
    let lines_in = (0..lines.len()).filter(|&i| (i == 0 || i % 2 == 1) && in_group(i)).collect();
    let borrowed = if first_rhymes && !in_group(0) { Groups(last(0).0 & neighbours(group).0).iter().next() } else { None };
    let first_off = first_rhymes && !in_group(0) && borrowed.is_none();
    let off = first_off.then_some(0).into_iter().chain(even.into_iter().filter(|&i| !in_group(i))).collect();
    RhymeReport { group: Some(group), lines: lines_in, borrowed, off }
}
