//! Dev-mode methods (`evm_*`): move the clock, mine, snapshot and revert. Outside dev mode they
//! answer "method not available outside dev mode".

use serde_json::{Value, json};

use super::shapes::quantity;
use super::{Params, RpcError};
use crate::node::Node;

pub(super) fn call(node: &Node, method: &str, p: &Params<'_>) -> Result<Value, RpcError> {
    let known = ["evm_increaseTime", "evm_setNextBlockTimestamp", "evm_mine", "evm_snapshot", "evm_revert"];
    if !known.contains(&method) {
        return Err(RpcError::method_not_found(method));
    }
    if !node.config().dev {
        return Err(RpcError::dev_only(method));
    }
    let server = RpcError::server;
    match method {
        "evm_increaseTime" => {
            p.at_most(1)?;
            let secs = p.quantity(0, "seconds")?;
            Ok(json!(node.increase_time(secs).map_err(server)?))
        }
        "evm_setNextBlockTimestamp" => {
            p.at_most(1)?;
            node.set_next_timestamp(p.quantity(0, "timestamp")?).map_err(server)?;
            Ok(Value::Null)
        }
        "evm_mine" => {
            p.at_most(1)?;
            let ts = if p.0.first().is_some_and(|v| !v.is_null()) { Some(p.quantity(0, "timestamp")?) } else { None };
            node.mine(ts).map_err(server)?;
            Ok(quantity(0))
        }
        "evm_snapshot" => {
            p.at_most(0)?;
            Ok(quantity(node.snapshot().map_err(server)?))
        }
        _ => {
            p.at_most(1)?;
            Ok(json!(node.revert(p.quantity(0, "snapshot id")?).map_err(server)?))
        }
    }
}
