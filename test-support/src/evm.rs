//! An in-memory chain for the contract tests: revm executing the committed bytecode,
//! with a clock the test moves. Deliberately small; the real node lives in `engine`.

use alloy::primitives::{Address, B256, Bytes, FixedBytes, Log, TxKind, U256, keccak256};
use alloy::sol_types::{SolCall, SolEvent};
use revm::context::{BlockEnv, TxEnv};
use revm::context_interface::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::handler::{MainnetContext, MainnetEvm};
use revm::{Context, DatabaseRef, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use tradechain_contracts::genesis::{self, SuiteAddresses};
use tradechain_contracts::revert::{self, Revert};
use tradechain_contracts::{Consents, Consortium, DocType, TradeOrders, role};

/// The revm instance behind a [`TestChain`].
pub type Evm = MainnetEvm<MainnetContext<CacheDB<EmptyDB>>>;

/// Monday 2026-11-23 09:00:00 UTC.
pub const START: u64 = 1_795_424_400;
/// Seconds in a day.
pub const DAY: u64 = 86_400;

/// The suite deployed by the operator on a bare revm; every transaction is a block of its own.
pub struct TestChain {
    evm: Evm,
    /// The clock (unix seconds) of the next block.
    pub now: u64,
    /// The next block number.
    pub block: u64,
    /// Where the contracts are.
    pub suite: SuiteAddresses,
    /// The consortium's operator.
    pub operator: Address,
    /// Logs of the last successful transaction.
    pub last_logs: Vec<Log>,
    /// Gas used by the last transaction.
    pub last_gas: u64,
}

/// Why a transaction did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// A custom error of the suite.
    Custom(Revert),
    /// Anything else (a panic, an empty revert, a halt): the test shows it as is.
    Other(String),
}

impl Failure {
    /// The custom error's name, or the description.
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Failure::Custom(r) => &r.name,
            Failure::Other(s) => s,
        }
    }
}

/// A party of the tests: a deterministic address from a name.
pub fn addr(name: &str) -> Address {
    Address::from_slice(&keccak256(name.as_bytes())[12..])
}

impl Default for TestChain {
    fn default() -> Self {
        Self::new()
    }
}

impl TestChain {
    /// The suite, deployed, with only the operator registered.
    #[must_use]
    pub fn new() -> Self {
        let operator = addr("operator");
        let evm = Context::mainnet()
            .modify_cfg_chained(|cfg| {
                cfg.chain_id = 7431;
            })
            .with_db(CacheDB::new(EmptyDB::default()))
            .build_mainnet();
        let mut chain = TestChain {
            evm,
            now: START,
            block: 1,
            suite: SuiteAddresses::for_operator(operator),
            operator,
            last_logs: Vec::new(),
            last_gas: 0,
        };
        for call in genesis::plan(operator) {
            let kind = call.to.map_or(TxKind::Create, TxKind::Call);
            chain.raw(operator, kind, call.input).expect("genesis call succeeds");
        }
        chain
    }

    /// The usual cast: two traders, their banks, a carrier, an inspector, two financiers
    /// (each trader consented to both financiers), and a trader party to nothing.
    #[must_use]
    pub fn with_members() -> Self {
        let mut c = Self::without_consents();
        for firm in ["buyer", "seller"] {
            for financier in ["financier", "financier2"] {
                c.consent(firm, financier);
            }
        }
        c
    }

    /// The usual cast, no trader having consented to any financier.
    #[must_use]
    pub fn without_consents() -> Self {
        let mut c = Self::new();
        for (name, roles) in [
            ("buyer", role::TRADER),
            ("seller", role::TRADER),
            ("buyer_bank", role::BANK),
            ("seller_bank", role::BANK),
            ("carrier", role::CARRIER),
            ("inspector", role::INSPECTOR),
            ("financier", role::FINANCIER),
            ("financier2", role::FINANCIER),
            ("stranger_trader", role::TRADER),
        ] {
            c.register(name, roles);
        }
        c
    }

    /// `firm` lets `financier` see its trade (Consents), for the longest period allowed.
    pub fn consent(&mut self, firm: &str, financier: &str) {
        let to = self.suite.consents;
        let expires_at = self.now + 730 * 86_400;
        self.exec(
            addr(firm),
            to,
            Consents::grantCall { financier: addr(financier), expiresAt: expires_at, requestId: U256::ZERO },
        )
        .expect("firm grants consent");
    }

    /// The operator registers `name` with `roles`.
    pub fn register(&mut self, name: &str, roles: u32) {
        let consortium = self.suite.consortium;
        let op = self.operator;
        self.exec(op, consortium, Consortium::registerCall { account: addr(name), name: name.into(), roles })
            .expect("operator registers member");
    }

    fn block_env(&self) -> BlockEnv {
        BlockEnv {
            number: U256::from(self.block),
            timestamp: U256::from(self.now),
            gas_limit: 60_000_000,
            basefee: 0,
            ..Default::default()
        }
    }

    fn nonce(&self, who: Address) -> u64 {
        self.evm.ctx.journaled_state.database.basic_ref(who).ok().flatten().map_or(0, |a| a.nonce)
    }

    fn raw(&mut self, from: Address, kind: TxKind, input: Bytes) -> Result<Bytes, Failure> {
        let block = self.block_env();
        self.evm.set_block(block);
        let tx = TxEnv::builder()
            .caller(from)
            .kind(kind)
            .data(input)
            .gas_limit(16_000_000)
            .gas_price(0)
            .nonce(self.nonce(from))
            .chain_id(Some(7431))
            .build_fill();
        let result = self.evm.transact_commit(tx).map_err(|e| Failure::Other(format!("invalid tx: {e:?}")))?;
        self.block += 1;
        self.last_gas = result.tx_gas_used();
        match result {
            ExecutionResult::Success { logs, output, .. } => {
                self.last_logs = logs;
                Ok(match output {
                    Output::Call(b) => b,
                    Output::Create(b, _) => b,
                })
            }
            ExecutionResult::Revert { output, .. } => {
                self.last_logs.clear();
                Err(revert::decode(&output).map_or_else(
                    || Failure::Other(format!("revert 0x{}", alloy::hex::encode(&output))),
                    Failure::Custom,
                ))
            }
            ExecutionResult::Halt { reason, .. } => {
                self.last_logs.clear();
                Err(Failure::Other(format!("halt {reason:?}")))
            }
        }
    }

    /// Sends `call` from `from` to `to` in a new block at the current time.
    pub fn exec<C: SolCall>(&mut self, from: Address, to: Address, call: C) -> Result<C::Return, Failure> {
        let out = self.raw(from, TxKind::Call(to), call.abi_encode().into())?;
        C::abi_decode_returns(&out).map_err(|e| Failure::Other(format!("bad return data: {e}")))
    }

    /// Executes `call` as the operator (entitled to read everything) without committing
    /// anything.
    pub fn view<C: SolCall>(&mut self, to: Address, call: C) -> C::Return {
        match self.view_as(self.operator, to, call) {
            Ok(r) => r,
            Err(f) => panic!("view call failed: {f:?}"),
        }
    }

    /// Executes `call` as `from` without committing anything: its return, or how it failed.
    pub fn view_as<C: SolCall>(&mut self, from: Address, to: Address, call: C) -> Result<C::Return, Failure> {
        let block = self.block_env();
        self.evm.set_block(block);
        let tx = TxEnv::builder()
            .caller(from)
            .kind(TxKind::Call(to))
            .data(call.abi_encode().into())
            .gas_limit(16_000_000)
            .gas_price(0)
            .nonce(self.nonce(from))
            .chain_id(Some(7431))
            .build_fill();
        let result = self.evm.transact(tx).map_err(|e| Failure::Other(format!("{e:?}")))?.result;
        match result {
            ExecutionResult::Success { output: Output::Call(b), .. } => {
                C::abi_decode_returns(&b).map_err(|e| Failure::Other(format!("bad return data: {e}")))
            }
            ExecutionResult::Revert { output, .. } => Err(revert::decode(&output)
                .map_or_else(|| Failure::Other(format!("revert 0x{}", alloy::hex::encode(&output))), Failure::Custom)),
            ExecutionResult::Halt { reason, .. } => Err(Failure::Other(format!("halt {reason:?}"))),
            ExecutionResult::Success { .. } => Err(Failure::Other("a view created a contract".into())),
        }
    }

    /// Asserts the transaction reverts with the named custom error and returns it.
    #[track_caller]
    pub fn expect_revert<C: SolCall>(&mut self, from: Address, to: Address, call: C, error: &str) -> Revert {
        match self.exec(from, to, call) {
            Ok(_) => panic!("expected revert {error}, but the call succeeded"),
            Err(Failure::Custom(r)) if r.name == error => r,
            Err(f) => panic!("expected revert {error}, got {f:?}"),
        }
    }

    /// Decodes the events of type `E` emitted by the last successful transaction.
    pub fn events<E: SolEvent>(&self) -> Vec<E> {
        self.last_logs.iter().filter_map(|l| E::decode_log(l).ok().map(|d| d.data)).collect()
    }

    /// Move the clock forward by whole days.
    pub fn advance_days(&mut self, days: u64) {
        self.now += days * DAY;
    }

    /// Move the clock forward by seconds.
    pub fn advance_secs(&mut self, secs: u64) {
        self.now += secs;
    }

    // ---- order helpers --------------------------------------------------------------

    /// `getOrder`.
    pub fn order(&mut self, id: u64) -> TradeOrders::Order {
        let to = self.suite.trade_orders;
        self.view(to, TradeOrders::getOrderCall { orderId: U256::from(id) })
    }

    /// `getMilestone`.
    pub fn milestone(&mut self, id: u64, index: u64) -> TradeOrders::Milestone {
        let to = self.suite.trade_orders;
        self.view(to, TradeOrders::getMilestoneCall { orderId: U256::from(id), index: U256::from(index) })
    }

    /// `getDocument`.
    pub fn document(&mut self, id: u64, doc: u8) -> TradeOrders::Document {
        let to = self.suite.trade_orders;
        self.view(to, TradeOrders::getDocumentCall { orderId: U256::from(id), docType: doc })
    }
}

/// A bytes3 code.
#[must_use]
pub fn b3(s: &str) -> FixedBytes<3> {
    FixedBytes::from_slice(s.as_bytes())
}

/// keccak256 of a text.
#[must_use]
pub fn h(s: &str) -> B256 {
    keccak256(s.as_bytes())
}

/// A U256.
#[must_use]
pub fn u(v: u64) -> U256 {
    U256::from(v)
}

/// Default terms: USD 100,000.00 FOB, shipment within 30 days, expiry in 60, the usual
/// carrier and inspector named.
#[must_use]
pub fn terms(now: u64) -> TradeOrders::OrderTerms {
    TradeOrders::OrderTerms {
        seller: addr("seller"),
        buyerBank: addr("buyer_bank"),
        sellerBank: addr("seller_bank"),
        carrier: addr("carrier"),
        inspector: addr("inspector"),
        amount: 10_000_000,
        currency: b3("USD"),
        incoterm: b3("FOB"),
        detailsHash: h("details"),
        latestShipment: now + 30 * DAY,
        expiry: now + 60 * DAY,
        examinationDays: 0,
        charges: tradechain_contracts::Charges::Shared as u8,
    }
}

/// A milestone of `bps` of the amount against `docs` (a bitmask), due `tenor` days later.
#[must_use]
pub fn share(bps: u16, docs: u16, tenor: u16) -> TradeOrders::MilestoneTerms {
    TradeOrders::MilestoneTerms { shareBps: bps, fixedAmount: 0, requiredDocs: docs, tenorDays: tenor }
}

/// A milestone of an exact amount against `docs`, due `tenor` days later.
#[must_use]
pub fn fixed(amount: u128, docs: u16, tenor: u16) -> TradeOrders::MilestoneTerms {
    TradeOrders::MilestoneTerms { shareBps: 0, fixedAmount: amount, requiredDocs: docs, tenorDays: tenor }
}

// The tests name documents through the Rust mirror of `TradeOrders.DocType`, so a drift
// between the two (say, the carrier attesting something that is not a bill of lading)
// fails them.
/// The commercial invoice.
pub const INVOICE: u8 = DocType::CommercialInvoice as u8;
/// The packing list.
pub const PACKING: u8 = DocType::PackingList as u8;
/// The bill of lading.
pub const BL: u8 = DocType::BillOfLading as u8;
/// The certificate of origin.
pub const ORIGIN: u8 = DocType::CertificateOfOrigin as u8;
/// The inspection certificate.
pub const INSPECTION: u8 = DocType::InspectionCertificate as u8;
/// The insurance certificate.
pub const INSURANCE: u8 = DocType::InsuranceCertificate as u8;

/// The bitmask of one document type.
#[must_use]
pub fn bit(doc: u8) -> u16 {
    1 << doc
}

impl TestChain {
    /// The buyer proposes `t` with milestones `ms`: the order id.
    pub fn propose(
        &mut self,
        t: TradeOrders::OrderTerms,
        ms: Vec<TradeOrders::MilestoneTerms>,
    ) -> Result<u64, Failure> {
        let to = self.suite.trade_orders;
        self.exec(addr("buyer"), to, TradeOrders::proposeCall { t, terms: ms }).map(|id| id.to::<u64>())
    }

    /// Proposed (default terms), accepted by the seller and committed by the buyer's bank.
    pub fn live_order(&mut self, ms: Vec<TradeOrders::MilestoneTerms>) -> u64 {
        let t = terms(self.now);
        self.live_order_with(t, ms)
    }

    /// Proposed with `t`, accepted by the seller and committed by the buyer's bank.
    pub fn live_order_with(&mut self, t: TradeOrders::OrderTerms, ms: Vec<TradeOrders::MilestoneTerms>) -> u64 {
        let id = self.propose(t, ms).expect("propose");
        let to = self.suite.trade_orders;
        self.exec(addr("seller"), to, TradeOrders::acceptCall { orderId: u(id) }).expect("accept");
        self.exec(
            addr("buyer_bank"),
            to,
            TradeOrders::commitCall { orderId: u(id), cover: tradechain_contracts::Cover::BankRisk as u8 },
        )
        .expect("commit");
        id
    }

    /// The seller submits `doc` (hash of `content`); its issuer attests it if it must.
    pub fn submit(&mut self, id: u64, doc: u8, content: &str) {
        let to = self.suite.trade_orders;
        let hash = h(content);
        self.exec(
            addr("seller"),
            to,
            TradeOrders::submitDocumentCall { orderId: u(id), docType: doc, hash, uri: format!("doc://{content}") },
        )
        .expect("submit document");
        let attester = match doc {
            BL => Some("carrier"),
            INSPECTION => Some("inspector"),
            _ => None,
        };
        if let Some(a) = attester {
            // A bill of lading shipped today (the presentation day).
            let shipment_date = if doc == BL { self.now } else { 0 };
            self.exec(
                addr(a),
                to,
                TradeOrders::attestDocumentCall { orderId: u(id), docType: doc, hash, shipmentDate: shipment_date },
            )
            .expect("attest document");
        }
    }

    /// Submitted, attested where needed, and accepted by the buyer's bank.
    pub fn present(&mut self, id: u64, doc: u8) {
        self.submit(id, doc, &format!("order {id} doc {doc}"));
        let to = self.suite.trade_orders;
        self.exec(addr("buyer_bank"), to, TradeOrders::acceptDocumentCall { orderId: u(id), docType: doc })
            .expect("bank accepts document");
    }

    /// A keeper releases a triggered milestone.
    pub fn release(&mut self, id: u64, index: u64) -> Result<(), Failure> {
        let to = self.suite.trade_orders;
        self.exec(addr("keeper"), to, TradeOrders::releasePaymentCall { orderId: u(id), index: u(index) }).map(|_| ())
    }

    /// `payer` confirms a due milestone paid.
    pub fn confirm(&mut self, payer: &str, id: u64, index: u64) -> Result<(), Failure> {
        let to = self.suite.trade_orders;
        self.exec(
            addr(payer),
            to,
            TradeOrders::confirmPaymentCall {
                orderId: u(id),
                index: u(index),
                paymentReference: h(&format!("ref {id} {index}")),
            },
        )
        .map(|_| ())
    }
}
