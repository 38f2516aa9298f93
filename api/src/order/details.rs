//! An order's details kept off chain before the transaction that anchors their hash is
//! sent: stored, with whom they were written for, in a synced commit of the read model.
//!
//! Writes arriving together share that commit ([`store`]): each caller queues its
//! details and waits for the process's turn to write; the first to get the turn writes
//! everything queued by then in one transaction, and those whose details it wrote are
//! answered when it commits, without a turn of their own. A commit, and its sync, per
//! creation held the turn the indexer's blocks wait for about a millisecond each time.

use std::sync::{Arc, Mutex, PoisonError};

use alloy::primitives::{Address, B256};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseTransaction, EntityTrait, TransactionTrait};
use tokio::sync::oneshot;
use tradechain_peer::envelope::Kind;

use crate::AppState;
use crate::consortium::item::Item;
use crate::error::{ApiError, ApiResult};
use crate::readmodel::details_writer;

/// Whom details are stored for, recorded in the same commit as the details.
pub(crate) enum WrittenFor {
    /// A proposal by this organisation, whose order id only its receipt will tell: the
    /// indexer records the item for the order in the block's transaction that indexes it.
    Proposal(Address),
    /// An order that exists (an amendment's new details).
    Order(i64),
}

/// Details waiting for a commit, and who waits for it.
struct Queued {
    hash: B256,
    body: String,
    what: WrittenFor,
    done: oneshot::Sender<ApiResult<()>>,
}

/// The details waiting for the next commit.
#[derive(Clone, Default)]
pub(crate) struct Queue(Arc<Mutex<Vec<Queued>>>);

/// Store the details (their hash and canonical JSON, [`super::details_hash`]), and that
/// one of this node's organisations wrote them for `what`, in a synced commit, before
/// answering. Storing what is kept already changes nothing. A commit that fails fails
/// every write it held (each is told, none is kept).
///
/// On PostgreSQL, which has no turn to take (its writers lock rows), each writer
/// usually commits its own.
pub(crate) async fn store(state: &AppState, (hash, body): (B256, String), what: WrittenFor) -> ApiResult<()> {
    let (done, mut outcome) = oneshot::channel();
    state.details.0.lock().unwrap_or_else(PoisonError::into_inner).push(Queued { hash, body, what, done });
    let turn = tokio::select! {
        // Another writer's commit held ours: no need to wait for a turn.
        written = &mut outcome => return written.unwrap_or_else(|_| Err(abandoned())),
        turn = state.indexer.write_turn() => turn,
    };
    // Ours was queued before the turn was taken: this takes it, or an earlier writer did.
    let queued = std::mem::take(&mut *state.details.0.lock().unwrap_or_else(PoisonError::into_inner));
    if queued.is_empty() {
        drop(turn);
    } else {
        // Its own task: a request given up (its client gone) must not take down the
        // commit others wait for.
        let state = state.clone();
        tokio::spawn(async move {
            let written = commit(&state, &queued).await;
            drop(turn);
            for q in queued {
                let _ = q.done.send(written.clone());
            }
        });
    }
    outcome.await.unwrap_or_else(|_| Err(abandoned()))
}

fn abandoned() -> ApiError {
    ApiError::internal("the details' commit was abandoned")
}

/// `queued` in one transaction.
async fn commit(state: &AppState, queued: &[Queued]) -> ApiResult<()> {
    let txn = state.db.begin().await?;
    for q in queued {
        write(&txn, q).await?;
    }
    txn.commit().await?;
    Ok(())
}

async fn write(txn: &DatabaseTransaction, q: &Queued) -> ApiResult<()> {
    let key = format!("{:#x}", q.hash);
    crate::consortium::item::keep_details(txn, key.clone(), q.body.clone()).await?;
    match q.what {
        WrittenFor::Proposal(writer) => {
            let row = details_writer::ActiveModel {
                writer: Set(crate::codec::addr(&writer)),
                details_hash: Set(key),
                at: Set(chrono::Utc::now().timestamp()),
            };
            let pk = [details_writer::Column::Writer, details_writer::Column::DetailsHash];
            crate::readmodel::inserted(
                details_writer::Entity::insert(row)
                    .on_conflict(OnConflict::columns(pk).do_nothing().to_owned())
                    .exec_without_returning(txn)
                    .await,
            )?;
        }
        WrittenFor::Order(order_id) => {
            let it = Item { order_id, kind: Kind::Details, hash: q.hash };
            crate::consortium::item::record(txn, &it, "written", None).await?;
        }
    }
    Ok(())
}
