//! Prints the gas each step of a whole trade costs when the committed bytecode runs in
//! revm: `cargo run -p tradechain-contracts --example gas_report`.
//! Gas is deterministic, so these figures do not depend on the machine.

use test_support::evm::*;
use tradechain_contracts::{Receivables, TradeOrders};

fn main() {
    let mut c = TestChain::with_members();
    let to = c.suite.trade_orders;
    let mut rows: Vec<(&str, u64)> = Vec::new();
    let mut step = |c: &mut TestChain, name: &'static str| rows.push((name, c.last_gas));

    let id = c
        .propose(terms(c.now), vec![share(3_000, bit(BL), 0), share(7_000, bit(INSPECTION) | bit(INVOICE), 60)])
        .expect("propose");
    step(&mut c, "propose (2 milestones)");
    c.exec(addr("seller"), to, TradeOrders::acceptCall { orderId: u(id) }).expect("accept");
    step(&mut c, "accept");
    c.exec(
        addr("buyer_bank"),
        to,
        TradeOrders::commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 },
    )
    .expect("commit");
    step(&mut c, "commit (payment undertaking)");
    let fin = c.suite.receivables;
    c.exec(
        addr("financier"),
        fin,
        Receivables::offerReceivableFinanceCall {
            orderId: u(id),
            milestone: u(1),
            advance: 6_500_000,
            discountBps: 450,
            deadlineDays: 5,
            fps: Receivables::Fingerprints { invoice: h("invoice fp"), documents: vec![h("bl fp")] },
            near: Receivables::NearKeys { key: h("near"), amount: h("amount"), date: h("date"), buyer: h("buyer") },
        },
    )
    .expect("offer");
    step(&mut c, "offer receivable finance (2 fingerprints)");
    c.exec(addr("seller"), fin, Receivables::acceptCall { financingId: u(1) }).expect("accept financing");
    step(&mut c, "accept financing (reserve, register fingerprints)");
    c.exec(addr("financier"), fin, Receivables::confirmAdvanceCall { financingId: u(1), paymentReference: h("adv") })
        .expect("advance");
    step(&mut c, "record advance");
    c.exec(addr("seller"), fin, Receivables::acknowledgeAdvanceCall { financingId: u(1) }).expect("acknowledge");
    step(&mut c, "acknowledge advance (assign proceeds)");
    c.exec(
        addr("seller"),
        to,
        TradeOrders::submitDocumentCall { orderId: u(id), docType: BL, hash: h("bl"), uri: "doc://bl".into() },
    )
    .expect("submit bill of lading");
    step(&mut c, "submit bill of lading");
    let shipped = c.now;
    c.exec(
        addr("carrier"),
        to,
        TradeOrders::attestDocumentCall { orderId: u(id), docType: BL, hash: h("bl"), shipmentDate: shipped },
    )
    .expect("attest bill of lading");
    step(&mut c, "attest bill of lading");
    c.exec(addr("buyer_bank"), to, TradeOrders::acceptDocumentCall { orderId: u(id), docType: BL })
        .expect("accept document");
    step(&mut c, "accept document (triggers milestone)");
    c.release(id, 0).expect("release milestone 0");
    step(&mut c, "release payment (PaymentDue)");
    c.confirm("buyer_bank", id, 0).expect("confirm milestone 0");
    step(&mut c, "confirm payment");
    c.present(id, INVOICE);
    c.present(id, INSPECTION);
    c.advance_days(60);
    c.release(id, 1).expect("release milestone 1");
    c.confirm("buyer_bank", id, 1).expect("confirm milestone 1");
    step(&mut c, "confirm payment (completes order, settles financing)");

    // In bulk, as the settlement worker sends them: 100 releases and 100 confirmations, each
    // completing its order, in one transaction each; the figure is per milestone.
    let ids: Vec<u64> = (0..100)
        .map(|_| {
            let id = c.live_order(vec![share(10_000, bit(INVOICE), 0)]);
            c.present(id, INVOICE);
            id
        })
        .collect();
    let orders: Vec<_> = ids.iter().map(|i| u(*i)).collect();
    let zeros = vec![u(0); ids.len()];
    c.exec(addr("keeper"), to, TradeOrders::releasePaymentsCall { orderIds: orders.clone(), indexes: zeros.clone() })
        .expect("release in bulk");
    rows.push(("release payment, 100 in one transaction (each)", c.last_gas / 100));
    let refs = ids.iter().map(|i| h(&format!("booking {i}"))).collect();
    c.exec(addr("buyer_bank"), to, TradeOrders::confirmPaymentsCall { orderIds: orders, indexes: zeros, refs })
        .expect("confirm in bulk");
    rows.push(("confirm payment, 100 in one transaction (each)", c.last_gas / 100));

    println!("{:<55} {:>10}", "step", "gas");
    for (name, gas) in rows {
        println!("{name:<55} {gas:>10}");
    }
}
