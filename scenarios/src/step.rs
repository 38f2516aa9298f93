//! One function per scenario action. Each makes its REST or JSON-RPC calls and says what
//! it did; [`play`] then holds the step to what it expects: the refusal it names in
//! `expect_error`, or success, and then its `expect`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Error;
use crate::expect::{check, unmet};
use crate::format::{
    Amendment, Attestation, BankEvent, Commitment, Consent, CreditQuery, Days, Dispute, DocumentAct, Failure,
    FinancingAct, Holidays, Offer, OrderAct, Payment, Presentation, Refusal, Release, Repayment, Settlement, Step,
    Verification,
};
use crate::runner::{DAY, Runner, doc_name, format_money, status_error};

/// What every action knows of its step: its number and description, its order (and that
/// order's view before the step), and how to fail.
pub(crate) struct Ctx {
    n: usize,
    what: String,
    key: String,
    id: Option<i64>,
    before: Option<Value>,
}

impl Ctx {
    fn fail(&self, message: String) -> Error {
        Error::Step { step: self.n, what: self.what.clone(), message }
    }

    /// `/v1/orders/{id}{suffix}` of the step's order.
    fn path(&self, suffix: &str) -> String {
        format!("/v1/orders/{}{suffix}", self.id.unwrap_or(0))
    }
}

/// An action that asked the node for something: what it was, for the timeline, and the
/// node's answer.
struct Acted {
    action: String,
    terms_note: String,
    answer: (u16, Value),
}

impl Acted {
    fn new(action: impl Into<String>, answer: (u16, Value)) -> Self {
        Acted { action: action.into(), terms_note: String::new(), answer }
    }
}

/// Play step `n`.
pub(crate) async fn play(r: &mut Runner<'_>, n: usize, step: &Step) -> Result<(), Error> {
    let key = step.order().unwrap_or_default().to_string();
    let before = match r.orders.contains_key(&key) {
        true => Some(r.order(&key).await?),
        false => None,
    };
    let id = r.orders.get(&key).map(|(id, _)| *id);
    let ctx = Ctx { n, what: step.describe(), key, id, before };
    let acted = match step {
        Step::AdvanceDays(s) => return advance_days(r, &ctx, step, s).await,
        Step::BankDown(s) => return bank(r, &ctx, step, s, true).await,
        Step::BankUp(s) => return bank(r, &ctx, step, s, false).await,
        Step::TrySettle(s) => return try_settle(r, &ctx, step, s).await,
        Step::WaitSettled(s) => return wait_settled(r, &ctx, step, s).await,
        Step::GrantConsent(s) => return grant_consent(r, &ctx, step, s).await,
        Step::QueryCredit(s) => return query_credit(r, &ctx, step, s).await,
        Step::SetHolidays(s) => return set_holidays(r, &ctx, step, s).await,
        Step::RequestVerification(s) => return request_verification(r, &ctx, step, s).await,
        Step::Propose(s) => propose(r, &ctx, s).await?,
        Step::Accept(s) => order_action(r, &ctx, s, "/accept", format!("accepts order {}", ctx.key)).await?,
        Step::Commit(s) => commit(r, &ctx, s).await?,
        Step::Expire(s) => order_action(r, &ctx, s, "/expire", format!("expires order {}", ctx.key)).await?,
        Step::SubmitDocument(s) => submit_document(r, &ctx, s).await?,
        Step::Attest(s) => attest(r, &ctx, s).await?,
        Step::AcceptDocument(s) => document_action(r, &ctx, s, "accept", "accepts").await?,
        Step::RejectDocument(s) => reject_document(r, &ctx, s).await?,
        Step::DeemAccepted(s) => {
            document_action(r, &ctx, s, "deem-accepted", "records the deemed acceptance (UCP 600 art. 16(f)) of")
                .await?
        }
        Step::RaiseDispute(s) => dispute(r, &ctx, s, "/disputes", "raises a dispute").await?,
        Step::ResolveDispute(s) => dispute(r, &ctx, s, "/disputes/resolve", "withdraws its dispute").await?,
        Step::ProposeAmendment(s) => propose_amendment(r, &ctx, s).await?,
        Step::ApproveAmendment(s) => approve_amendment(r, &ctx, s).await?,
        Step::FailMilestone(s) => fail_milestone(r, &ctx, s).await?,
        Step::OfferFinancing(s) => offer_financing(r, &ctx, s).await?,
        Step::AcceptFinancing(s) => {
            financing_action(r, &ctx, s, "/accept", json!({}), format!("takes financing {}", s.financing)).await?
        }
        Step::AdvanceFinancing(s) => advance_financing(r, &ctx, s).await?,
        Step::AcknowledgeAdvance(s) => {
            let action = format!("acknowledges the advance of financing {}", s.financing);
            financing_action(r, &ctx, s, "/advance/acknowledge", json!({}), action).await?
        }
        Step::ApproveFinancing(s) => {
            let action = format!("approves the change of payer of financing {}", s.financing);
            financing_action(r, &ctx, s, "/approve", json!({}), action).await?
        }
        Step::LapseFinancing(s) => {
            let action = format!("lapses financing {}", s.financing);
            let mut acted = financing_action(r, &ctx, s, "/lapse", json!({}), action).await?;
            acted.terms_note = "the receivable and its fingerprints are released".into();
            acted
        }
        Step::CancelFinancing(s) => {
            let action = format!("asks to cancel financing {}", s.financing);
            financing_action(r, &ctx, s, "/cancel", json!({}), action).await?
        }
        Step::ReleaseMilestone(s) => release_milestone(r, &ctx, s).await?,
        Step::ConfirmMilestone(s) => confirm_milestone(r, &ctx, s).await?,
        Step::ReleaseRepayment(s) => {
            let action = format!("releases the repayment of financing {}", s.financing);
            let acted = financing_action(r, &ctx, s, "/repayment/release", json!({}), action).await?;
            repayment_note(r, &ctx, acted)
        }
        Step::ConfirmRepayment(s) => confirm_repayment(r, &ctx, s).await?,
    };
    finish(r, &ctx, step, acted).await
}

/// Hold an action's answer to the step: the refusal it expects, or success; then the
/// timeline line and the step's expectations.
async fn finish(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, acted: Acted) -> Result<(), Error> {
    let actor = step.actor().unwrap_or_default().to_string();
    let (status, body) = acted.answer;
    let ok = (200..300).contains(&status);
    if let (Some(code), _) = step.outcome() {
        let got = body["error"]["code"].as_str().unwrap_or(if ok { "success" } else { "no error code" });
        if got != code {
            return Err(unmet(ctx.n, &ctx.what, "expect_error", code, got));
        }
        let state = match r.orders.contains_key(&ctx.key) {
            true => r.order(&ctx.key).await?["state"].as_str().unwrap_or("").to_string(),
            false => String::new(),
        };
        r.line(&actor, &format!("tries: {}", acted.action), &state, &format!("refused: {code}")).await?;
        return check(r, ctx.n, &ctx.what, step).await;
    }
    if !ok {
        return Err(ctx.fail(status_error(status, &body)));
    }
    let after = r.order(&ctx.key).await?;
    let currency = after["currency"].as_str().unwrap_or("USD").to_string();
    let mut notes = r.milestone_notes(ctx.before.as_ref(), &after, &currency);
    if !acted.terms_note.is_empty() {
        notes.insert(0, acted.terms_note);
    }
    let notes = notes.join("; ");
    let state = after["state"].as_str().unwrap_or("").to_string();
    r.line(&actor, &acted.action, &state, &notes).await?;
    check(r, ctx.n, &ctx.what, step).await
}

fn token(r: &Runner<'_>, actor: &str) -> String {
    r.member(actor).token.clone()
}

/// A date `days` after the chain's `now`, YYYY-MM-DD.
fn date_after(now: u64, days: u32) -> String {
    let ts = i64::try_from(now + u64::from(days) * DAY).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp(ts, 0).map(|d| d.format("%Y-%m-%d").to_string()).unwrap_or_default()
}

async fn advance_days(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, s: &Days) -> Result<(), Error> {
    let advanced = match r.rpc("evm_increaseTime", json!([u64::from(s.days) * DAY])).await {
        Ok(_) => r.rpc("evm_mine", json!([])).await,
        Err(e) => Err(e),
    };
    advanced.map_err(|e| {
        ctx.fail(format!("the node does not let its clock be advanced (a dev node or Hardhat does): {e}"))
    })?;
    r.emit(&match s.days {
        1 => "         ·· 1 day passes".to_string(),
        n => format!("         ·· {n} days pass"),
    });
    check(r, ctx.n, &ctx.what, step).await
}

async fn bank(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, _s: &BankEvent, down: bool) -> Result<(), Error> {
    r.bank_admin(reqwest::Method::PUT, "/admin/faults", Some(json!({ "down": down }))).await?;
    let what_happens = if down { "goes down: every instruction gets 503" } else { "is back up" };
    r.line("sandbox bank", what_happens, "", "").await?;
    check(r, ctx.n, &ctx.what, step).await
}

async fn try_settle(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, _s: &Settlement) -> Result<(), Error> {
    for w in &r.workers {
        // The bank may be down: a failed pass is what this step shows.
        let _ = w.step().await;
    }
    let after = r.order(&ctx.key).await?;
    deemed_lines(r, ctx.before.as_ref(), &after).await?;
    let currency = after["currency"].as_str().unwrap_or("USD").to_string();
    let notes = r.milestone_notes(ctx.before.as_ref(), &after, &currency);
    let state = after["state"].as_str().unwrap_or("").to_string();
    let payments = r.bank_admin(reqwest::Method::GET, "/admin/payments", None).await?;
    let count = payments.as_array().map_or(0, Vec::len);
    let mut note = format!("{count} payment(s) booked at the bank");
    if !notes.is_empty() {
        note = format!("{}; {note}", notes.join("; "));
    }
    r.line("settlement", "the workers try once", &state, &note).await?;
    check(r, ctx.n, &ctx.what, step).await
}

async fn wait_settled(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, _s: &Settlement) -> Result<(), Error> {
    drive_until_settled(r, &ctx.key).await.map_err(|e| ctx.fail(e.to_string()))?;
    let after = r.order(&ctx.key).await?;
    deemed_lines(r, ctx.before.as_ref(), &after).await?;
    let currency = after["currency"].as_str().unwrap_or("USD").to_string();
    let empty = Vec::new();
    let mut paid_any = false;
    for (i, m) in after["milestones"].as_array().unwrap_or(&empty).iter().enumerate() {
        let was = ctx.before.as_ref().and_then(|b| b["milestones"][i]["state"].as_str()).unwrap_or("");
        if m["state"] == "paid" && was != "paid" {
            paid_any = true;
            let payer = r.name_of(m["payer"].as_str().unwrap_or(""));
            let amount = m["amount_minor"].as_str().and_then(|a| a.parse().ok()).unwrap_or(0);
            let payee = r.name_of(m["payee"].as_str().unwrap_or(""));
            let state = after["state"].as_str().unwrap_or("").to_string();
            r.line(
                &payer,
                &format!("pays milestone {} through the sandbox bank", i + 1),
                &state,
                &format!("{} → {payee}", format_money(&currency, amount)),
            )
            .await?;
        }
    }
    if !paid_any {
        let state = after["state"].as_str().unwrap_or("").to_string();
        r.line("settlement", "no payment is due", &state, "").await?;
    }
    check(r, ctx.n, &ctx.what, step).await
}

/// A timeline line for each presentation the workers recorded as deemed accepted.
async fn deemed_lines(r: &mut Runner<'_>, before: Option<&Value>, after: &Value) -> Result<(), Error> {
    let empty = Vec::new();
    for d in after["documents"].as_array().unwrap_or(&empty) {
        let doc = d["doc_type"].as_str().unwrap_or("");
        let was = before
            .and_then(|b| b["documents"].as_array()?.iter().find(|x| x["doc_type"] == doc).cloned())
            .map(|x| x["state"].clone());
        if d["state"] == "accepted" && d["deemed"] == true && was.as_ref().is_none_or(|w| w != "accepted") {
            let state = after["state"].as_str().unwrap_or("").to_string();
            let action = format!("records the deemed acceptance of the {}", doc_name(doc));
            r.line("settlement", &action, &state, "no refusal within 5 banking days (UCP 600 art. 16(f))").await?;
        }
    }
    Ok(())
}

/// Drive the settlement workers until no milestone of the order is payable and unpaid, and
/// the workers have nothing left to do (a bank's own transfers, such as the buyer's
/// reimbursement of a milestone the bank paid at its own risk, follow the payment).
async fn drive_until_settled(r: &Runner<'_>, key: &str) -> Result<(), Error> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut last_error = None;
    loop {
        let mut idle = true;
        for w in &r.workers {
            // A failed pass is retried, as the worker's own loop would.
            match w.step().await {
                Ok(report) => idle &= report.is_idle(),
                Err(e) => {
                    last_error = Some(e.to_string());
                    idle = false;
                }
            }
        }
        let order = r.order(key).await?;
        let now = r.chain_time().await?;
        let empty = Vec::new();
        let pending: Vec<usize> = order["milestones"]
            .as_array()
            .unwrap_or(&empty)
            .iter()
            .enumerate()
            .filter(|(_, m)| {
                let due = m["due_date"].as_u64().is_some_and(|d| d <= now);
                m["state"] == "due" || (m["state"] == "triggered" && due)
            })
            .map(|(i, _)| i + 1)
            .collect();
        // Presentations whose examination period passed without a decision: the workers
        // record their deemed acceptance, which may trigger a milestone.
        let lapsed = order["documents"].as_array().unwrap_or(&empty).iter().any(|d| {
            let by = d["examine_by"].as_u64().unwrap_or(0);
            d["state"] == "submitted" && d["attested"] == true && by != 0 && by < now
        });
        if pending.is_empty() && !lapsed && idle {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            let why = last_error.map(|e| format!(" (last settlement pass failed: {e})")).unwrap_or_default();
            return Err(Error::Platform(format!(
                "milestones {pending:?} of order {key} were not paid within 30s{why}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

async fn grant_consent(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, s: &Consent) -> Result<(), Error> {
    let now = r.chain_time().await?;
    let body = json!({ "financier": r.member(&s.financier).address, "expires_at": date_after(now, s.days) });
    let (status, res) = r.call("POST", "/v1/consents", &token(r, &s.actor), Some(body)).await?;
    if !(200..300).contains(&status) {
        return Err(ctx.fail(status_error(status, &res)));
    }
    let action = format!("consents: {} may read its history", s.financier);
    r.line(&s.actor, &action, "", &format!("for {} days", s.days)).await?;
    check(r, ctx.n, &ctx.what, step).await
}

async fn query_credit(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, s: &CreditQuery) -> Result<(), Error> {
    r.sync().await?;
    let address = r.member(&s.firm).address.clone();
    let path = format!("/v1/firms/{address}/credit-profile");
    let (status, res) = r.call("GET", &path, &token(r, &s.actor), None).await?;
    let firm = &s.firm;
    if let Some(code) = &s.expect_error {
        let got = res["error"]["code"].as_str().unwrap_or("success");
        if got != code {
            return Err(unmet(ctx.n, &ctx.what, "expect_error", code, got));
        }
        r.line(&s.actor, &format!("tries: reads {firm}'s credit profile"), "", &format!("refused: {code}")).await?;
        return check(r, ctx.n, &ctx.what, step).await;
    }
    if status != 200 {
        return Err(ctx.fail(status_error(status, &res)));
    }
    r.line(&s.actor, &format!("reads {firm}'s credit profile"), "", "").await?;
    let empty = Vec::new();
    for f in res["figures"].as_array().unwrap_or(&empty) {
        let name = f["name"].as_str().unwrap_or("?");
        if matches!(name, "quarterly_trend" | "trading_period" | "concentration") {
            continue;
        }
        let v = r.redact_addresses(&f["value"].to_string());
        r.emit(&format!("{:<8} {:<20} {name}: {v}", "", ""));
    }
    if let Some(want) = s.expect.as_ref().and_then(|e| e.figures.as_ref()) {
        for (name, value) in want {
            let want = serde_json::to_value(value).map_err(|e| ctx.fail(e.to_string()))?;
            let got = res["figures"]
                .as_array()
                .and_then(|fs| fs.iter().find(|f| f["name"] == name.as_str()))
                .map_or(Value::Null, |f| f["value"].clone());
            if got != want {
                return Err(unmet(ctx.n, &ctx.what, &format!("figures.{name}"), want, got));
            }
        }
    }
    check(r, ctx.n, &ctx.what, step).await
}

async fn propose(r: &mut Runner<'_>, ctx: &Ctx, s: &OrderAct) -> Result<Acted, Error> {
    let key = &ctx.key;
    let spec = r.orders_spec(key).ok_or_else(|| ctx.fail(format!("order `{key}` is not defined")))?;
    if ctx.id.is_some() {
        return Err(ctx.fail(format!("order `{key}` was already proposed")));
    }
    let now = r.chain_time().await?;
    let milestones: Vec<Value> = spec
        .milestones
        .iter()
        .map(|m| {
            let mut v = json!({ "documents": m.documents, "tenor_days": m.tenor_days });
            if let Some(s) = m.share_bps {
                v["share_bps"] = json!(s);
            }
            if let Some(a) = m.amount_minor {
                v["amount_minor"] = json!(a.to_string());
            }
            v
        })
        .collect();
    let mut details = json!({});
    if let Some(g) = &spec.goods {
        details["line_items"] = json!([{ "description": g, "quantity": "1", "unit": "lot" }]);
    }
    if let Some(p) = &spec.port_of_loading {
        details["port_of_loading"] = json!(p);
    }
    if let Some(p) = &spec.port_of_discharge {
        details["port_of_discharge"] = json!(p);
    }
    let body = json!({
        "seller": r.member(&spec.seller).address,
        "buyer_bank": r.member(&spec.buyer_bank).address,
        "seller_bank": r.member(&spec.seller_bank).address,
        "carrier": spec.carrier.as_ref().map(|c| r.member(c).address.clone()),
        "charges": spec.charges,
        "inspector": spec.inspector.as_ref().map(|i| r.member(i).address.clone()),
        "amount_minor": spec.amount_minor.to_string(),
        "currency": spec.currency,
        "incoterm": spec.incoterm,
        "latest_shipment": date_after(now, spec.latest_shipment_days),
        "expiry": date_after(now, spec.expiry_days),
        "milestones": milestones,
        "details": details,
    });
    let (status, res) = r.call("POST", "/v1/orders", &token(r, &s.actor), Some(body)).await?;
    if status == 201
        && let Some(new_id) = res["id"].as_i64()
    {
        let spec = r.orders_spec_static(key);
        r.orders.insert(key.clone(), (new_id, spec));
    }
    let action = format!(
        "proposes order {key}: {}, {}",
        format_money(&spec.currency, u128::from(spec.amount_minor)),
        spec.incoterm
    );
    Ok(Acted::new(action, (status, res)))
}

async fn order_action(
    r: &mut Runner<'_>,
    ctx: &Ctx,
    s: &OrderAct,
    suffix: &str,
    action: impl Into<String>,
) -> Result<Acted, Error> {
    let answer = r.call("POST", &ctx.path(suffix), &token(r, &s.actor), Some(json!({}))).await?;
    Ok(Acted::new(action, answer))
}

async fn commit(r: &mut Runner<'_>, ctx: &Ctx, s: &Commitment) -> Result<Acted, Error> {
    let body = match &s.cover {
        Some(c) => json!({ "cover": c }),
        None => json!({}),
    };
    let answer = r.call("POST", &ctx.path("/commit"), &token(r, &s.actor), Some(body)).await?;
    let action = match s.cover.as_deref() {
        Some("earmark") => "commits, earmarking the buyer's funds",
        _ => "commits: the bank's payment undertaking",
    };
    Ok(Acted::new(action, answer))
}

async fn submit_document(r: &mut Runner<'_>, ctx: &Ctx, s: &Presentation) -> Result<Acted, Error> {
    let doc = &s.document;
    let content = s.content.clone().unwrap_or_else(|| format!("%PDF-1.7 {doc} of order {}", ctx.key));
    let answer =
        r.put_bytes(&ctx.path(&format!("/documents/{doc}")), &token(r, &s.actor), content.into_bytes()).await?;
    let version = answer.1["documents"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["doc_type"] == doc.as_str()))
        .and_then(|d| d["version"].as_i64())
        .unwrap_or(1);
    let action = if version > 1 {
        format!("presents a corrected {} (version {version})", doc_name(doc))
    } else {
        format!("presents the {}", doc_name(doc))
    };
    Ok(Acted::new(action, answer))
}

async fn document_action(
    r: &mut Runner<'_>,
    ctx: &Ctx,
    s: &DocumentAct,
    verb: &str,
    says: &str,
) -> Result<Acted, Error> {
    let path = ctx.path(&format!("/documents/{}/{verb}", s.document));
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(json!({}))).await?;
    Ok(Acted::new(format!("{says} the {}", doc_name(&s.document)), answer))
}

async fn reject_document(r: &mut Runner<'_>, ctx: &Ctx, s: &Refusal) -> Result<Acted, Error> {
    let path = ctx.path(&format!("/documents/{}/reject", s.document));
    let body = json!({ "discrepancies": s.discrepancies });
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(body)).await?;
    Ok(Acted::new(format!("refuses the {}: {}", doc_name(&s.document), s.discrepancies.join("; ")), answer))
}

/// The issuer attests; a carrier states the on-board date, `shipped_before_days` before
/// the presentation.
async fn attest(r: &mut Runner<'_>, ctx: &Ctx, s: &Attestation) -> Result<Acted, Error> {
    let path = ctx.path(&format!("/documents/{}/attest", s.document));
    let mut body = json!({});
    let action = format!("attests the {}", doc_name(&s.document));
    let mut note = String::new();
    if s.document == "bill_of_lading" {
        let presented = ctx
            .before
            .as_ref()
            .and_then(|o| o["documents"].as_array()?.iter().find(|d| d["doc_type"] == s.document.as_str()).cloned())
            .and_then(|d| d["submitted_at"].as_u64())
            .ok_or_else(|| ctx.fail(format!("no {} presented to attest", doc_name(&s.document))))?;
        let shipped = presented.saturating_sub(u64::from(s.shipped_before_days.unwrap_or(0)) * DAY);
        body["shipment_date"] = json!(date_after(shipped, 0));
        note = format!("shipped on board day {}", (shipped / DAY).saturating_sub(r.start / DAY));
    }
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(body)).await?;
    let mut acted = Acted::new(action, answer);
    acted.terms_note = note;
    Ok(acted)
}

async fn dispute(r: &mut Runner<'_>, ctx: &Ctx, s: &Dispute, suffix: &str, says: &str) -> Result<Acted, Error> {
    let answer = r.call("POST", &ctx.path(suffix), &token(r, &s.actor), Some(json!({ "reason": s.reason }))).await?;
    Ok(Acted::new(format!("{says}: {}", s.reason), answer))
}

async fn propose_amendment(r: &mut Runner<'_>, ctx: &Ctx, s: &Amendment) -> Result<Acted, Error> {
    let now = r.chain_time().await?;
    let body = json!({
        "latest_shipment": date_after(now, s.latest_shipment_days),
        "expiry": date_after(now, s.expiry_days),
    });
    let answer = r.call("POST", &ctx.path("/amendments"), &token(r, &s.actor), Some(body)).await?;
    let action = format!("proposes an amendment: expiry in {} days", s.expiry_days);
    Ok(Acted::new(action, answer))
}

async fn approve_amendment(r: &mut Runner<'_>, ctx: &Ctx, s: &OrderAct) -> Result<Acted, Error> {
    let pending = ctx.before.as_ref().and_then(|o| o["pending_amendment"]["amendment_id"].as_str().map(String::from));
    let id = pending.ok_or_else(|| ctx.fail("no amendment is pending".into()))?;
    let path = ctx.path(&format!("/amendments/{id}/approve"));
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(json!({}))).await?;
    let amended = answer.1["pending_amendment"].is_null() && (200..300).contains(&answer.0);
    let action = if amended { "approves the amendment: it is in force" } else { "approves the amendment" };
    Ok(Acted::new(action, answer))
}

async fn fail_milestone(r: &mut Runner<'_>, ctx: &Ctx, s: &Failure) -> Result<Acted, Error> {
    let index = s.milestone.unwrap_or(1).saturating_sub(1);
    let path = ctx.path(&format!("/milestones/{index}/fail"));
    let reference = format!("FAIL-{}-{}", ctx.key, index + 1);
    let body = json!({ "reference": reference, "reason_code": s.reason_code, "reason": s.reason });
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(body)).await?;
    let action = format!("fails milestone {}: {} {}", index + 1, s.reason_code, s.reason);
    Ok(Acted::new(action, answer))
}

/// A step on no order: the refusal it expects, or success; its line; its expectations.
async fn standalone(
    r: &mut Runner<'_>,
    ctx: &Ctx,
    step: &Step,
    answer: (u16, Value),
    action: &str,
    note: &str,
) -> Result<(), Error> {
    let actor = step.actor().unwrap_or_default().to_string();
    let (status, body) = answer;
    let ok = (200..300).contains(&status);
    if let (Some(code), _) = step.outcome() {
        let got = body["error"]["code"].as_str().unwrap_or(if ok { "success" } else { "no error code" });
        if got != code {
            return Err(unmet(ctx.n, &ctx.what, "expect_error", code, got));
        }
        r.line(&actor, &format!("tries: {action}"), "", &format!("refused: {code}")).await?;
        return check(r, ctx.n, &ctx.what, step).await;
    }
    if !ok {
        return Err(ctx.fail(status_error(status, &body)));
    }
    r.line(&actor, action, "", note).await?;
    check(r, ctx.n, &ctx.what, step).await
}

async fn set_holidays(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, s: &Holidays) -> Result<(), Error> {
    let now = r.chain_time().await?;
    let days: Vec<String> = s.days.iter().map(|d| date_after(now, *d)).collect();
    let holiday = s.holiday.unwrap_or(true);
    let body = json!({ "days": days, "holiday": holiday });
    let answer = r.call("POST", "/v1/holidays", &token(r, &s.actor), Some(body)).await?;
    let what = if holiday { "declares holidays" } else { "makes banking days again" };
    let offsets: Vec<String> = s.days.iter().map(u32::to_string).collect();
    standalone(r, ctx, step, answer, what, &format!("days {} from today", offsets.join(", "))).await
}

async fn request_verification(r: &mut Runner<'_>, ctx: &Ctx, step: &Step, s: &Verification) -> Result<(), Error> {
    let body = json!({ "firm": r.member(&s.firm).address, "purpose": "credit line review" });
    let answer = r.call("POST", "/v1/verification-requests", &token(r, &s.actor), Some(body)).await?;
    standalone(r, ctx, step, answer, &format!("asks to read {}'s trade history", s.firm), "").await
}

async fn offer_financing(r: &mut Runner<'_>, ctx: &Ctx, s: &Offer) -> Result<Acted, Error> {
    let key = &ctx.key;
    let spec = r.orders_spec(key).ok_or_else(|| ctx.fail(format!("order `{key}` is not defined")))?;
    let index = s.milestone.unwrap_or(1).saturating_sub(1);
    let now = r.chain_time().await?;
    let invoice_number = s.invoice.clone().unwrap_or_else(|| format!("INV-{key}"));
    let invoice_amount = s.invoice_amount_minor.unwrap_or(spec.amount_minor);
    let invoice_date = r.invoice_dates.entry(invoice_number.clone()).or_insert_with(|| date_after(now, 0)).clone();
    let rate = s.rate_bps.unwrap_or(0);
    let mut body = json!({
        "kind": s.kind,
        "rate_bps": rate,
        "invoice": {
            "number": invoice_number,
            "date": invoice_date,
            "amount_minor": invoice_amount.to_string(),
            "currency": spec.currency,
        },
    });
    if let Some(d) = s.deadline_days {
        body["deadline_days"] = json!(d);
    }
    let terms = if s.kind == "payable" {
        let extra = s.extra_days.unwrap_or(0);
        body["extra_days"] = json!(extra);
        format!("{extra} extra days")
    } else {
        let advance = s.advance_minor.unwrap_or(0);
        body["advance_minor"] = json!(advance.to_string());
        format!("advance {}", format_money(&spec.currency, u128::from(advance)))
    };
    let token = token(r, &s.actor);
    let path = ctx.path(&format!("/milestones/{index}/financing-offers"));
    let answer = r.call("POST", &path, &token, Some(body)).await?;
    if answer.0 == 201
        && let Some(fid) = answer.1["id"].as_i64()
    {
        r.financings.insert(s.financing.clone(), (fid, token));
    }
    let mut acted = Acted::new(format!("offers {} finance on invoice {invoice_number}", s.kind), answer);
    acted.terms_note = format!(
        "invoice {}: {terms} at {}.{:02}%",
        format_money(&spec.currency, u128::from(invoice_amount)),
        rate / 100,
        rate % 100
    );
    Ok(acted)
}

/// The id of the financing the scenario named `name`.
fn financing_id(r: &Runner<'_>, ctx: &Ctx, name: &str) -> Result<i64, Error> {
    Ok(r.financings.get(name).ok_or_else(|| ctx.fail(format!("financing `{name}` was not offered")))?.0)
}

async fn financing_action(
    r: &mut Runner<'_>,
    ctx: &Ctx,
    s: &FinancingAct,
    suffix: &str,
    body: Value,
    action: String,
) -> Result<Acted, Error> {
    let fid = financing_id(r, ctx, &s.financing)?;
    let answer = r.call("POST", &format!("/v1/financings/{fid}{suffix}"), &token(r, &s.actor), Some(body)).await?;
    Ok(Acted::new(action, answer))
}

async fn advance_financing(r: &mut Runner<'_>, ctx: &Ctx, s: &FinancingAct) -> Result<Acted, Error> {
    let fid = financing_id(r, ctx, &s.financing)?;
    let body = json!({ "reference": format!("ADV-{fid:04}") });
    financing_action(r, ctx, s, "/advance", body, format!("reports it paid the advance of financing {}", s.financing))
        .await
}

async fn confirm_repayment(r: &mut Runner<'_>, ctx: &Ctx, s: &Repayment) -> Result<Acted, Error> {
    let fid = financing_id(r, ctx, &s.financing)?;
    let reference = s.reference.clone().unwrap_or_else(|| format!("REPAY-{fid:04}"));
    let action = format!("confirms the repayment of financing {} ({reference})", s.financing);
    let path = format!("/v1/financings/{fid}/repayment/confirm");
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(json!({ "reference": reference }))).await?;
    Ok(repayment_note(r, ctx, Acted::new(action, answer)))
}

/// The repayment's amount and financier, for the timeline.
fn repayment_note(r: &Runner<'_>, ctx: &Ctx, mut acted: Acted) -> Acted {
    if let Some(amount) = acted.answer.1["repayment_amount_minor"].as_str().and_then(|a| a.parse::<u128>().ok()) {
        let currency = r.orders_spec(&ctx.key).map_or("USD", |o| o.currency.as_str());
        let financier = r.name_of(acted.answer.1["financier"].as_str().unwrap_or(""));
        acted.terms_note = format!("repayment {} → {financier}", format_money(currency, amount));
    }
    acted
}

async fn release_milestone(r: &mut Runner<'_>, ctx: &Ctx, s: &Release) -> Result<Acted, Error> {
    let index = s.milestone.unwrap_or(1).saturating_sub(1);
    let path = ctx.path(&format!("/milestones/{index}/release"));
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(json!({}))).await?;
    Ok(Acted::new(format!("releases milestone {}", index + 1), answer))
}

async fn confirm_milestone(r: &mut Runner<'_>, ctx: &Ctx, s: &Payment) -> Result<Acted, Error> {
    let index = s.milestone.unwrap_or(1).saturating_sub(1);
    let reference = s.reference.clone().unwrap_or_else(|| format!("PAY-{}-{}", ctx.key, index + 1));
    let path = ctx.path(&format!("/milestones/{index}/confirm"));
    let answer = r.call("POST", &path, &token(r, &s.actor), Some(json!({ "reference": reference }))).await?;
    Ok(Acted::new(format!("confirms it paid milestone {} ({reference})", index + 1), answer))
}
