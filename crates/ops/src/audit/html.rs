//! The audit report as one self-contained HTML page for an operator's browser: no external
//! script, font or style. Per gym, the summary as a bar of synced / stream-only / db-only, the
//! state of each source, then each finding kind as a table with its evidence and the command that
//! carries out the recommendation.

use std::collections::BTreeMap;
use std::fmt::Write;

use super::report::{AuditReport, Finding, FindingKind, GymReport};

const STYLE: &str = "
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1d2330; background: #fbfbfd; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; } h2 { margin-top: 2.4rem; border-bottom: 2px solid #e3e6ee; }
h3 { margin: 1.6rem 0 .4rem; font-size: 1.05rem; }
.meta { color: #5b6478; }
.bar { display: flex; height: 1.6rem; border-radius: .35rem; overflow: hidden; margin: .6rem 0 .3rem;
       border: 1px solid #d5d9e3; }
.bar div { display: flex; align-items: center; justify-content: center; color: #fff; font-size: .8rem;
           white-space: nowrap; overflow: hidden; }
.synced { background: #2f9e5b; } .stream { background: #d9822b; } .db { background: #c8423a; }
.legend span { display: inline-block; margin-right: 1.2rem; } .legend i { display: inline-block; width: .8rem;
       height: .8rem; border-radius: .15rem; margin-right: .3rem; vertical-align: -1px; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; }
.ok { background: #e1f4e8; color: #1e6b3d; } .warn { background: #fdecd8; color: #8a4b0f; }
.bad { background: #fbe0de; color: #8c221b; }
table { border-collapse: collapse; width: 100%; font-size: .88rem; background: #fff; }
th, td { border: 1px solid #e3e6ee; padding: .35rem .5rem; text-align: left; vertical-align: top; }
th { background: #f1f3f8; }
code { font: .82rem ui-monospace, 'SFMono-Regular', Menlo, monospace; background: #f1f3f8; padding: .05rem .3rem;
       border-radius: .2rem; word-break: break-all; }
.destructive { color: #8c221b; font-weight: 600; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: 0; }
dt { color: #5b6478; } dd { margin: 0; }
";

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn title(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::StreamOnly => "Stream-only channels",
        FindingKind::DbOnly => "DB-only rooms",
        FindingKind::MissingMembers => "Room members missing from the channel",
        FindingKind::ExtraMembers => "Channel members not in the room",
        FindingKind::LegacyMemberIds => "Legacy member ids",
        FindingKind::ForeignGymMemberIds => "Other gyms' member ids",
        FindingKind::UnknownMemberIds => "Unrecognised member ids",
        FindingKind::MembersNotInTeam => "Members whose Stream user lacks the gym's team",
        FindingKind::MissingTeam => "Channels without team",
        FindingKind::WrongTeam => "Channels of another team",
        FindingKind::WrongGymId => "Wrong or missing gym_id",
        FindingKind::NotFrozenEventOver => "Finished events whose channel is not frozen",
        FindingKind::DuplicateRoomsForEvent => "Several rooms for one event",
        FindingKind::DuplicateRoomsForPair => "Several rooms for one pair",
        FindingKind::RoomEventMissing => "Rooms whose event does not exist",
        FindingKind::RoomMemberUserMissing => "Room members without a user row",
        FindingKind::MemberRowsWithoutRoom => "Member rows without a room",
        FindingKind::UnreadableRow => "Database rows that could not be read",
    }
}

fn evidence(f: &Finding) -> String {
    let mut s = String::from("<dl>");
    for (k, v) in &f.evidence {
        let text = match v {
            serde_json::Value::String(t) => t.clone(),
            other => other.to_string(),
        };
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", esc(k), esc(&text));
    }
    s.push_str("</dl>");
    s
}

fn bar(g: &GymReport) -> String {
    let m = &g.summary;
    let total = (m.synced + m.stream_only + m.db_only).max(1) as f64;
    let part = |n: usize, class: &str, label: &str| {
        if n == 0 {
            String::new()
        } else {
            format!(
                "<div class=\"{class}\" style=\"width:{:.2}%\" title=\"{label}: {n}\">{n} {label}</div>",
                n as f64 * 100.0 / total
            )
        }
    };
    format!(
        "<div class=\"bar\">{}{}{}</div>\
         <div class=\"legend meta\"><span><i class=\"synced\"></i>synced {}</span>\
         <span><i class=\"stream\"></i>stream-only {}</span><span><i class=\"db\"></i>db-only {}</span>\
         <span>{} % synced</span></div>",
        part(m.synced, "synced", "synced"),
        part(m.stream_only, "stream", "stream-only"),
        part(m.db_only, "db", "db-only"),
        m.synced,
        m.stream_only,
        m.db_only,
        m.synced_pct
    )
}

fn gym(g: &GymReport, out: &mut String) {
    let m = &g.summary;
    let state = if !g.complete {
        "<span class=\"badge bad\">incomplete: no destructive recommendation</span>"
    } else if g.findings.is_empty() {
        "<span class=\"badge ok\">synced and clean</span>"
    } else {
        "<span class=\"badge warn\">findings</span>"
    };
    let _ = write!(out, "<h2>Gym {} {state}</h2>", g.gym_id);
    out.push_str(&bar(g));
    let _ = write!(
        out,
        "<p class=\"meta\">{} Stream channels, {} rooms in the database; {} archived, {} retired. \
         Legacy member ids: {}.</p>",
        m.total_stream_channels,
        m.total_db_chatrooms,
        m.archived,
        m.retired,
        if m.legacy_member_ids.is_empty() {
            "none".to_owned()
        } else {
            m.legacy_member_ids.iter().map(|i| format!("<code>{}</code>", esc(i))).collect::<Vec<_>>().join(" ")
        }
    );
    for (name, s) in [("database", &g.sources.db), ("Stream", &g.sources.stream)] {
        if !s.complete {
            let _ = write!(out, "<p><span class=\"badge bad\">{name} read incomplete</span> ");
            for p in &s.problems {
                let _ = write!(out, "{}. ", esc(p));
            }
            out.push_str("</p>");
        }
    }
    let mut by_kind: BTreeMap<FindingKind, Vec<&Finding>> = BTreeMap::new();
    for f in &g.findings {
        by_kind.entry(f.kind).or_default().push(f);
    }
    for (kind, findings) in by_kind {
        let _ = write!(
            out,
            "<h3>{} ({})</h3><table><tr><th>room</th><th>channel</th><th>evidence</th>\
                             <th>recommendation</th><th>command</th></tr>",
            title(kind),
            findings.len()
        );
        for f in findings {
            let cmd = f.command.as_deref().map_or_else(|| "—".to_owned(), |c| format!("<code>{}</code>", esc(c)));
            let rec = if f.destructive {
                format!("<span class=\"destructive\">{}</span>", esc(&f.recommendation))
            } else {
                esc(&f.recommendation)
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{rec}</td><td>{cmd}</td></tr>",
                f.room_id.map_or_else(|| "—".to_owned(), |r| r.to_string()),
                f.cid.as_deref().map_or_else(|| "—".to_owned(), |c| format!("<code>{}</code>", esc(c))),
                evidence(f)
            );
        }
        out.push_str("</table>");
    }
    if !g.archived.is_empty() {
        let _ = write!(
            out,
            "<h3>Archived legacy channels ({})</h3><table><tr><th>channel</th><th>room</th><th>moved to</th></tr>",
            g.archived.len()
        );
        for a in &g.archived {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td></tr>",
                esc(&a.cid),
                a.room_id,
                esc(&a.new_cid)
            );
        }
        out.push_str("</table>");
    }
}

/// The page.
pub fn render(report: &AuditReport) -> String {
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>gymchat audit</title>\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{STYLE}</style></head><body>\
         <h1>gymchat audit</h1><p class=\"meta\">Report version {}, generated {} UTC, {} gym(s); {}.</p>",
        report.version,
        report.generated_at.format("%Y-%m-%d %H:%M:%S"),
        report.gyms.len(),
        if report.complete { "every read complete" } else { "some reads incomplete" }
    );
    for g in &report.gyms {
        gym(g, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}
