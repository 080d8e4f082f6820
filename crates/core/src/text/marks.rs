//! What a reader of 唐诗 marks on a poem: each character's tone (平, 仄, either, or unknown) and,
//! for a 五绝, 七绝, 五律 or 七律, how each position fares against the pattern it follows, the
//! rhyme group and the faults. A serialisable view of [`super::meter`]'s report, for the page
//! (which draws the marks) and anyone else who wants them as data.

use serde::Serialize;

use super::is_hanzi;
use super::meter::{self, Ao, Fault, Status, Tone, Tones};

/// The marks of one poem.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PoemMarks {
    /// 五绝, 七绝, 五律 or 七律 when the poem has that shape; `None` for other poems, which get
    /// tones only.
    pub form: Option<&'static str>,
    /// The pattern the poem follows or comes closest to, e.g. `仄起首句入韵`.
    pub pattern: Option<String>,
    /// Whether it passes the whole 格律 check.
    pub passes: Option<bool>,
    /// The 平水韵 group its rhyme lines share, e.g. `下平声七阳`.
    pub rhyme_group: Option<String>,
    /// One per Chinese character of the poem, in order (punctuation has none).
    pub chars: Vec<CharMark>,
    /// What keeps the poem from passing, in line order.
    pub faults: Vec<FaultMark>,
    /// The accepted 拗句, by line.
    pub ao: Vec<AoMark>,
}

/// One character.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CharMark {
    pub ch: char,
    /// Where it is in the poem's text, counted in characters (punctuation included).
    pub at: usize,
    /// `ping`, `ze`, `either` (readings in both tones) or `unknown`.
    pub tone: &'static str,
    /// The tone is guessed from Mandarin: the 平水韵 table lacks the character.
    pub guessed: bool,
    /// The 平水韵 groups of its readings, e.g. `["上平声十四寒", "去声十五翰"]` for 看.
    pub groups: Vec<String>,
    /// Line and position (0-based), for regulated verse.
    pub line: Option<usize>,
    pub pos: Option<usize>,
    /// The pattern's tone here (`ping` or `ze`), and whether it is free (一三五不论).
    pub expected: Option<&'static str>,
    /// `required`, `free`, `broken`, `rescued` or `unknown`.
    pub status: Option<&'static str>,
    /// A rhyme position: the last character of a line that should rhyme.
    pub rhyme: bool,
    /// A rhyme position off the poem's rhyme group.
    pub off_rhyme: bool,
}

/// One fault: `broken`, `unknown`, `guPing`, `sanPingWei`, `shiDui`, `shiNian`, `offRhyme` or
/// `firstLineOffRhyme` (its `pos` the line's last character, the one off the rhyme).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultMark {
    pub kind: &'static str,
    /// 0-based; for 失对 and 失粘 the first of the two lines.
    pub line: usize,
    pub pos: Option<usize>,
}

/// One accepted 拗句: `guPingRescued`, `rescuedByNextLine`, `rescuesPreviousLine` or
/// `specialForm`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AoMark {
    pub kind: &'static str,
    pub line: usize,
}

fn tone_name(tone: Tone) -> &'static str {
    match tone {
        Tone::Ping => "ping",
        Tone::Ze => "ze",
    }
}

fn tones_name(tones: Tones) -> &'static str {
    match (tones.ping, tones.ze) {
        (true, true) => "either",
        (true, false) => "ping",
        (false, true) => "ze",
        (false, false) => "unknown",
    }
}

fn status_name(status: Status) -> &'static str {
    match status {
        Status::Required => "required",
        Status::Free => "free",
        Status::Broken => "broken",
        Status::Rescued => "rescued",
        Status::Unknown => "unknown",
    }
}

/// `chars`: the characters a line (the last one's position).
fn fault_mark(fault: Fault, chars: usize) -> FaultMark {
    let (kind, line, pos) = match fault {
        Fault::Broken { line, pos } => ("broken", line, Some(pos)),
        Fault::Unknown { line, pos } => ("unknown", line, Some(pos)),
        Fault::GuPing { line } => ("guPing", line, None),
        Fault::SanPingWei { line } => ("sanPingWei", line, None),
        Fault::ShiDui { line } => ("shiDui", line, None),
        Fault::ShiNian { line } => ("shiNian", line, None),
        Fault::OffRhyme { line } => ("offRhyme", line, None),
        Fault::FirstLineOffRhyme => ("firstLineOffRhyme", 0, Some(chars - 1)),
    };
    FaultMark { kind, line, pos }
}

fn ao_name(ao: Ao) -> &'static str {
    match ao {
        Ao::GuPingRescued => "guPingRescued",
        Ao::RescuedByNextLine => "rescuedByNextLine",
        Ao::RescuesPreviousLine => "rescuesPreviousLine",
        Ao::SpecialForm => "specialForm",
    }
}

/// The marks of `poem`: tones for every Chinese character, and the 格律 check's findings when
/// the poem is 4 or 8 lines of 5 or 7 characters.
pub fn marks(poem: &str) -> PoemMarks {
    let mut chars: Vec<CharMark> = poem
        .chars()
        .enumerate()
        .filter(|(_, c)| is_hanzi(*c))
        .map(|(at, ch)| {
            let tones = meter::tones(ch);
            CharMark {
                ch,
                at,
                tone: tones_name(tones),
                guessed: tones.guessed,
                groups: meter::groups(ch).iter().map(meter::group_name).collect(),
                line: None,
                pos: None,
                expected: None,
                status: None,
                rhyme: false,
                off_rhyme: false,
            }
        })
        .collect();
    let Some(report) = meter::check(poem) else {
        return PoemMarks { form: None, pattern: None, passes: None, rhyme_group: None, chars, faults: vec![], ao: vec![] };
    };
    // A regular poem's characters are its lines' characters, in order.
    let positions = report.lines.iter().enumerate().flat_map(|(i, l)| l.positions.iter().enumerate().map(move |(p, pos)| (i, p, pos, l.kind.rhymes())));
    for (mark, (line, pos, position, rhymes)) in chars.iter_mut().zip(positions) {
        debug_assert_eq!(mark.ch, position.ch);
        let last = pos + 1 == report.form.chars;
        mark.line = Some(line);
        mark.pos = Some(pos);
        mark.expected = Some(tone_name(position.expected));
        mark.status = Some(status_name(position.status));
        mark.rhyme = last && rhymes;
        mark.off_rhyme = last && report.rhyme.off.contains(&line);
    }
    PoemMarks {
        form: Some(report.form.name()),
        pattern: Some(report.pattern.name()),
        passes: Some(report.passes()),
        rhyme_group: report.rhyme.group.map(meter::group_name),
        chars,
        faults: report.faults.iter().map(|&f| fault_mark(f, report.form.chars)).collect(),
        ao: report.lines.iter().enumerate().flat_map(|(line, l)| l.ao.iter().map(move |&a| AoMark { kind: ao_name(a), line })).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_quatrain_is_marked_position_by_position() {
        // 王之涣《登鹳雀楼》: 仄起首句不入韵, rhyme 下平声十一尤.
        let m = marks("白日依山尽，黄河入海流。欲穷千里目，更上一层楼。");
        assert_eq!((m.form, m.passes), (Some("五绝"), Some(true)));
        assert_eq!(m.pattern.as_deref(), Some("仄起首句不入韵"));
        assert_eq!(m.rhyme_group.as_deref(), Some("下平声十一尤"));
        assert_eq!(m.chars.len(), 20);
        assert!(m.faults.is_empty());
        let liu = &m.chars[9];
        assert_eq!((liu.ch, liu.at, liu.line, liu.pos), ('流', 10, Some(1), Some(4)));
        assert_eq!((liu.tone, liu.expected, liu.status, liu.rhyme), ("ping", Some("ping"), Some("required"), true));
        assert_eq!(m.chars[0].status, Some("free"));
        assert!(!m.chars[4].rhyme, "尽 ends a line that does not rhyme");
        assert_eq!(m.chars.iter().filter(|c| c.rhyme).count(), 2);
    }

    #[test]
    fn a_broken_poem_names_its_faults_and_other_poems_get_tones_only() {
        // 李白《静夜思》, a 古绝: 失粘 and broken positions, its rhyme right (阳).
        let m = marks("床前明月光，疑是地上霜。举头望明月，低头思故乡。");
        assert_eq!(m.passes, Some(false));
        assert!(m.faults.iter().any(|f| f.kind == "shiNian"));
        assert!(m.faults.iter().any(|f| f.kind == "broken"));
        let broken = m.faults.iter().find(|f| f.kind == "broken").unwrap();
        let c = m.chars.iter().find(|c| c.line == Some(broken.line) && c.pos == broken.pos).unwrap();
        assert_eq!(c.status, Some("broken"));
        assert_eq!(m.rhyme_group.as_deref(), Some("下平声七阳"));

        let free = marks("看山，山不语。");
        assert_eq!((free.form, free.passes), (None, None));
        assert_eq!(free.chars.iter().map(|c| c.at).collect::<Vec<_>>(), [0, 1, 3, 4, 5]);
        assert_eq!(free.chars[0].tone, "either", "看 is read in 寒 and 翰");
        assert_eq!(free.chars[0].groups, ["上平声十四寒", "去声十五翰"]);
        assert!(free.chars.iter().all(|c| c.status.is_none()));
    }

    #[test]
    fn a_first_line_off_the_rhyme_and_its_neighbours_is_a_fault_at_its_last_character() {
        // 张继《枫桥夜泊》 with 天 (先) -> 东 (东, no neighbour of 先): the fault the page words
        // as tones.fault.firstLineOffRhyme, on 东, which is marked off the rhyme.
        let m = marks("月落乌啼霜满东，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。");
        assert_eq!(m.passes, Some(false));
        assert_eq!(m.faults, [FaultMark { kind: "firstLineOffRhyme", line: 0, pos: Some(6) }]);
        let dong = &m.chars[6];
        assert_eq!((dong.ch, dong.rhyme, dong.off_rhyme), ('东', true, true));
        assert!(!m.chars[13].off_rhyme, "眠 rhymes");
    }
}
