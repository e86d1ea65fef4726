//! The markets' own rent ledgers (市场租金台账: first-party, uploaded by each
//! market office through `services::rent_ledger`) as facts about a business.
//!
//! A ledger is kept per stall, not per business, so a manager's upload says
//! nothing about anyone by itself. Its rows count for the business with
//! USCC `u` only when all of these hold:
//!
//! 1. the stall belongs to the ledger's market (the row's market is the
//!    stall's);
//! 2. the market's stall record names `u` (the manager's claim);
//! 3. the registered operator of `u` confirmed the stall as theirs ("这是我的
//!    摊位吗?", `stall_confirmations`): a confirmation not withdrawn, whose
//!    person the registry names the operator of `u` today.
//!
//! And a ledger never masks or overrides the county: a month the county's
//! rent export holds for the same market and stall is the county's. Each
//! ledger keeps its own as-of date (the end of the period it covers) and
//! who uploaded each row and when; `connectors` put both in the facts'
//! provenance, so the decision trace shows them.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::db::DbConn;
use crate::db::schema::{credit_rent, market_rent_ledger, markets, stall_confirmations, stalls};
use crate::decision::Source;
use crate::decision::facts::{FactSource, LedgerOrigin, Origin, RentMonth, Upload};
use crate::error::{AppError, AppResult};
use crate::identity::registry;

/// What the ledgers add for one business: its rent months, and one
/// provenance entry per stall whose ledger counted.
#[derive(Debug, Default)]
pub struct LedgerFacts {
    pub rent: Vec<RentMonth>,
    pub sources: Vec<FactSource>,
}

impl LedgerFacts {
    pub fn rows(&self) -> usize {
        self.rent.len()
    }

    /// The newest as-of date of the ledgers that counted.
    pub fn as_of(&self) -> Option<NaiveDate> {
        self.sources.iter().filter_map(|s| s.as_of).max()
    }
}

/// The stalls whose ledgers count for `uscc` (conditions 1–3 above):
/// `(stall id, market id)`.
pub fn confirmed_stalls(conn: &mut DbConn, uscc: &str) -> AppResult<Vec<(String, String)>> {
    let confirmed: Vec<(String, String)> = stall_confirmations::table
        .filter(stall_confirmations::uscc.eq(uscc))
        .filter(stall_confirmations::withdrawn_at.is_null())
        .select((
            stall_confirmations::stall_id,
            stall_confirmations::person_index,
        ))
        .load(conn)?;
    let mut ids = BTreeSet::new();
    for (stall, person) in confirmed {
        if registry::index_is_operator(conn, uscc, &person)? {
            ids.insert(stall);
        }
    }
    Ok(stalls::table
        .filter(stalls::id.eq_any(ids.into_iter().collect::<Vec<_>>()))
        .filter(stalls::uscc.eq(uscc))
        .select((stalls::id, stalls::market_id))
        .load(conn)?)
}

type LedgerRow = (
    String,         // stall id
    String,         // month
    i64,            // due
    i64,            // paid
    Option<String>, // paid on
    String,         // as of
    String,         // uploaded by
    String,         // uploaded at
);

/// The ledger facts that count for `uscc`.
pub fn read_for(conn: &mut DbConn, uscc: &str) -> AppResult<LedgerFacts> {
    let stalls_ok = confirmed_stalls(conn, uscc)?;
    if stalls_ok.is_empty() {
        return Ok(LedgerFacts::default());
    }
    let mut out = LedgerFacts::default();
    // (market name, stall number, month) the county's export holds.
    let county: HashSet<(String, String, String)> = credit_rent::table
        .filter(credit_rent::uscc.eq(uscc))
        .select((
            credit_rent::market,
            credit_rent::stall_no,
            credit_rent::month,
        ))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .collect();
    for (stall_id, market_id) in stalls_ok {
        let (market, number): (String, String) = stalls::table
            .inner_join(markets::table)
            .filter(stalls::id.eq(&stall_id))
            .select((markets::name, stalls::number))
            .first(conn)?;
        let rows: Vec<LedgerRow> = market_rent_ledger::table
            .filter(market_rent_ledger::stall_id.eq(&stall_id))
            // (1): the row's market is the stall's.
            .filter(market_rent_ledger::market_id.eq(&market_id))
            .order(market_rent_ledger::month)
            .select((
                market_rent_ledger::stall_id,
                market_rent_ledger::month,
                market_rent_ledger::due_cents,
                market_rent_ledger::paid_cents,
                market_rent_ledger::paid_on,
                market_rent_ledger::as_of,
                market_rent_ledger::uploaded_by,
                market_rent_ledger::uploaded_at,
            ))
            .load(conn)?;
        let mut uploads: BTreeMap<(String, String), ()> = BTreeMap::new();
        let mut as_of: Option<NaiveDate> = None;
        let mut taken = 0;
        let mut left = 0;
        for (_, month, due, paid, paid_on, row_as_of, by, at) in rows {
            if county.contains(&(market.clone(), number.clone(), month.clone())) {
                left += 1;
                continue;
            }
            let bad = |what: &str| AppError::internal(format!("ledger row of {stall_id}: {what}"));
            out.rent.push(RentMonth {
                month: month.parse().map_err(|_| bad("month"))?,
                due_cents: due,
                paid_cents: paid,
                paid_on: paid_on
                    .as_deref()
                    .map(|d| d.parse().map_err(|_| bad("paid_on")))
                    .transpose()?,
            });
            let d: NaiveDate = row_as_of.parse().map_err(|_| bad("as_of"))?;
            as_of = Some(as_of.map_or(d, |a| a.max(d)));
            uploads.insert((by, at), ());
            taken += 1;
        }
        if taken == 0 && left == 0 {
            continue;
        }
        out.sources.push(FactSource {
            source: Source::Rent,
            origin: Origin::MarketLedger,
            as_of,
            rows: taken,
            ledger: Some(LedgerOrigin {
                market,
                stall: number,
                uploads: uploads
                    .into_keys()
                    .map(|(by, at)| Upload { by, at })
                    .collect(),
                months_left_to_county: left,
            }),
        });
    }
    Ok(out)
}
