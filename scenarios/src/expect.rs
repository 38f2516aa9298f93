//! Holding a step to its `expect`: the order's state, amounts and milestones, the sandbox
//! bank's balances and payments, a financing's state.

use crate::Error;
use crate::format::{Expect, Step};
use crate::runner::Runner;

/// The error of an expectation not met.
pub(crate) fn unmet(n: usize, what: &str, expectation: &str, expected: impl ToString, actual: impl ToString) -> Error {
    Error::Expectation {
        step: n,
        what: what.to_string(),
        expectation: expectation.to_string(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

/// Check everything step `n` expects.
pub(crate) async fn check(r: &Runner<'_>, n: usize, what: &str, step: &Step) -> Result<(), Error> {
    let (_, Some(e)) = step.outcome() else { return Ok(()) };
    let Expect {
        order,
        state,
        paid_minor,
        milestones,
        balances,
        bank_payments,
        financing_state,
        documents,
        dispute_open,
        figures: _,
    } = e;
    if let Some(want) = bank_payments {
        let all = r.bank_admin(reqwest::Method::GET, "/admin/payments", None).await?;
        let got = all.as_array().map_or(0, Vec::len);
        if got != *want {
            return Err(unmet(n, what, "bank_payments", want, got));
        }
    }
    if let Some(want) = financing_state {
        let name = step.financing().unwrap_or_default();
        let (fid, token) =
            r.financings.get(name).ok_or_else(|| unmet(n, what, "financing_state", want, "no financing"))?;
        r.sync().await?;
        let (_, f) = r.call("GET", &format!("/v1/financings/{fid}"), token, None).await?;
        let got = f["state"].as_str().unwrap_or("?");
        if got != want {
            return Err(unmet(n, what, "financing_state", want, got));
        }
    }
    let key = order.as_deref().or(step.order());
    if state.is_some() || paid_minor.is_some() || milestones.is_some() || documents.is_some() || dispute_open.is_some()
    {
        let key = key.ok_or_else(|| unmet(n, what, "order", "an order", "none named"))?;
        let o = r.order(key).await?;
        if let Some(s) = state
            && o["state"] != s.as_str()
        {
            return Err(unmet(n, what, "state", s, o["state"].as_str().unwrap_or("?")));
        }
        if let Some(p) = paid_minor {
            let got = o["paid_minor"].as_str().unwrap_or("?");
            if got != p.to_string() {
                return Err(unmet(n, what, "paid_minor", p, got));
            }
        }
        if let Some(want) = dispute_open {
            let got = !o["dispute_raised_by"].is_null();
            if got != *want {
                return Err(unmet(n, what, "dispute_open", want, got));
            }
        }
        if let Some(docs) = documents {
            let empty = Vec::new();
            for (doc, want) in docs {
                let label = |f: &str| format!("documents.{doc}.{f}");
                let got = o["documents"].as_array().unwrap_or(&empty).iter().find(|d| d["doc_type"] == doc.as_str());
                let Some(d) = got else { return Err(unmet(n, what, &label("state"), &want.state, "not presented")) };
                if d["state"] != want.state.as_str() {
                    return Err(unmet(n, what, &label("state"), &want.state, d["state"].as_str().unwrap_or("?")));
                }
                if let Some(deemed) = want.deemed
                    && d["deemed"] != deemed
                {
                    return Err(unmet(n, what, &label("deemed"), deemed, &d["deemed"]));
                }
            }
        }
        if let Some(ms) = milestones {
            let empty = Vec::new();
            let got = o["milestones"].as_array().unwrap_or(&empty);
            if got.len() != ms.len() {
                return Err(unmet(n, what, "milestones", format!("{} milestones", ms.len()), got.len()));
            }
            for (i, (want, m)) in ms.iter().zip(got).enumerate() {
                let label = |f: &str| format!("milestones[{i}].{f}");
                if m["state"] != want.state.as_str() {
                    return Err(unmet(n, what, &label("state"), &want.state, m["state"].as_str().unwrap_or("?")));
                }
                if let Some(a) = want.amount_minor {
                    let g = m["amount_minor"].as_str().unwrap_or("?");
                    if g != a.to_string() {
                        return Err(unmet(n, what, &label("amount_minor"), a, g));
                    }
                }
                if let Some(p) = &want.payee {
                    let g = r.name_of(m["payee"].as_str().unwrap_or(""));
                    if &g != p {
                        return Err(unmet(n, what, &label("payee"), p, g));
                    }
                }
                if let Some(p) = &want.payer {
                    let g = r.name_of(m["payer"].as_str().unwrap_or(""));
                    if &g != p {
                        return Err(unmet(n, what, &label("payer"), p, g));
                    }
                }
            }
        }
    }
    if let Some(b) = balances {
        let all = r.bank_admin(reqwest::Method::GET, "/admin/balances", None).await?;
        for (name, want) in b {
            let member = r.member(name);
            let got = member.account.as_ref().and_then(|a| {
                all.as_array()
                    .and_then(|l| l.iter().find(|x| x["iban"] == a.iban.as_str()))
                    .and_then(|x| x["balance"].as_i64())
            });
            match got {
                Some(g) if g == *want => {}
                Some(g) => return Err(unmet(n, what, &format!("balances.{name}"), want, g)),
                None => return Err(unmet(n, what, &format!("balances.{name}"), want, "no account")),
            }
        }
    }
    Ok(())
}
