// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./Errors.sol";
import "./Roles.sol";
import {Consortium} from "./Consortium.sol";
import {TradeCalendar} from "./TradeCalendar.sol";

/// @notice What TradeOrders tells the Receivables contract about a financed milestone, so
/// the financing follows the payment without anyone chasing it.
interface IFinancingHook {
    function onMilestonePaid(uint256 orderId, uint256 milestone) external;
    function onPayerDefaulted(uint256 orderId, uint256 milestone) external;
    /// Whether `financier` holds a financing of the order that its firm accepted.
    function financesOrder(uint256 orderId, address financier) external view returns (bool);
}

/// @notice What TradeOrders asks the Consents contract: whether a firm lets a financier see
/// its trade.
interface IConsentRegistry {
    function hasConsent(address firm, address financier) external view returns (bool);
}

/// @title TradeOrders
/// @notice Orders between a buyer and a seller, their payment terms as milestones, the
/// documents the terms name, and the payment obligation that follows.
///
/// The buyer's bank commits to an accepted order (a bank payment undertaking). Following
/// ICC URDTT, that undertaking is conditional until the documents a milestone names are
/// accepted, then unconditional: the milestone is triggered, its due date fixed from the
/// presentation, and from the due date anyone may release it, which emits `PaymentDue`
/// for the paying bank's settlement worker.
///
/// The undertaking is the bank's own and separate from the sale (UCP 600 art. 4, 5): a
/// dispute between buyer and seller is recorded and shown, but stops neither the bank's
/// examination, nor deemed acceptance, nor the payment of a triggered milestone. A
/// presentation made on or before expiry stays examinable after it (art. 6(e)).
///
/// Amounts are integers in minor units of an ISO 4217 currency. Milestone amounts add up
/// exactly to the order amount: a fixed milestone takes exactly its stated amount, a share
/// milestone floor(amount * shareBps / 10000), and the last share milestone also takes the
/// rounding remainder.
contract TradeOrders {
    enum OrderState { None, Proposed, Accepted, Rejected, Committed, Completed, Cancelled, Expired }
    enum MilestoneState { Pending, Triggered, Due, Paid, Failed, Defaulted }
    enum DocState { None, Submitted, Accepted, Rejected }
    /// Document types; a milestone names the ones it requires as a bitmask of 1 << type.
    enum DocType {
        CommercialInvoice,
        PackingList,
        BillOfLading,
        CertificateOfOrigin,
        InspectionCertificate,
        InsuranceCertificate
    }
    /// Who bears the banks' charges of a payment (ISO 20022 `ChrgBr`), as the parties agree
    /// it in the order: shared (SHAR), the debtor (DEBT, the buyer), the creditor (CRED, the
    /// seller). SEPA euro payments always share them by the scheme's rules (SLEV).
    enum Charges { Shared, Debtor, Creditor }
    /// How the buyer's bank covers its undertaking, a term of its commitment: it earmarks the
    /// buyer's funds when it commits (held until the milestones are paid, or released when the
    /// order ends), or it takes the buyer's credit risk and pays from its own account, claiming
    /// the buyer separately. Either way a payment never fails for want of the buyer's funds.
    enum Cover { BankRisk, Earmark }

    uint256 internal constant MAX_MILESTONES = 8;
    /// ISO 20022 amounts have at most 18 digits (`ActiveOrHistoricCurrencyAndAmount`,
    /// totalDigits 18): a larger order could never be paid, so it is refused when proposed.
    uint128 public constant MAX_AMOUNT = 1e18 - 1;
    /// A payer that fails this many times in a row has defaulted (see `failPayment`).
    uint32 internal constant MAX_FAILURES = 3;
    /// Disputes one order may see in all: a party cannot keep an order under a cloud.
    uint32 internal constant MAX_DISPUTES = 3;
    uint16 internal constant ALL_DOCS = (1 << 6) - 1;
    uint8 internal constant DEFAULT_EXAMINATION_DAYS = 5; // UCP 600 art. 14(b): at most five banking days
    /// UCP 600 art. 14(c): a transport document is presented at most 21 calendar days after shipment.
    uint64 internal constant PRESENTATION_DAYS_AFTER_SHIPMENT = 21;
    /// A bank's declared holidays lengthen one examination period, or move one due date, by at
    /// most this many days: a calendar cannot keep a seller waiting without end.
    uint256 internal constant MAX_HOLIDAYS_SKIPPED = 10;
    uint16 internal constant MAX_TENOR_DAYS = 720;
    uint256 internal constant MAX_REASON = 280;
    uint256 internal constant MAX_DISCREPANCIES = 8;
    uint256 internal constant MAX_URI = 512;

    /// What the buyer proposes.
    struct OrderTerms {
        address seller;
        address buyerBank;
        address sellerBank;
        /// Attests the bill of lading; required when a milestone needs one.
        address carrier;
        /// Attests the inspection certificate; required when a milestone needs one.
        address inspector;
        uint128 amount;
        bytes3 currency;
        bytes3 incoterm;
        bytes32 detailsHash;
        uint64 latestShipment;
        uint64 expiry;
        uint8 examinationDays;
        Charges charges;
    }

    /// One payment term: exactly one of shareBps or fixedAmount is non-zero.
    struct MilestoneTerms {
        uint16 shareBps;
        uint128 fixedAmount;
        uint16 requiredDocs;
        uint16 tenorDays;
    }

    struct Order {
        address buyer;
        address seller;
        address buyerBank;
        address sellerBank;
        address carrier;
        address inspector;
        uint128 amount;
        uint128 paid;
        bytes3 currency;
        bytes3 incoterm;
        OrderState state;
        Charges charges;
        Cover cover;
        uint8 examinationDays;
        uint8 milestoneCount;
        uint8 triggeredCount;
        uint16 requiredDocs;
        uint16 acceptedDocs;
        uint64 latestShipment;
        uint64 expiry;
        bytes32 detailsHash;
        address cancelRequestedBy;
        /// The party whose dispute is open; zero when none is.
        address disputeRaisedBy;
        uint32 disputes;
    }

    struct Milestone {
        uint128 amount;
        uint16 requiredDocs;
        uint16 tenorDays;
        MilestoneState state;
        uint32 attempts;
        uint32 failures;
        uint64 triggeredAt;
        uint64 dueDate;
        uint64 paidAt;
        address payer;
        address payee;
        uint256 financingId;
        bytes32 paymentRef;
    }

    struct Document {
        bytes32 hash;
        address issuer;
        DocState state;
        bool attested;
        bool deemed;
        uint32 version;
        /// The presentation: when the seller submitted this version.
        uint64 submittedAt;
        /// When it became examinable (at submission, or at its issuer's attestation).
        uint64 examinableFrom;
        /// The end of the bank's examination period (0 while awaiting attestation).
        uint64 examineBy;
        /// Bills of lading: the on-board date the carrier attested (art. 20(a)(ii)).
        uint64 shipmentDate;
    }

    struct Amendment {
        address proposer;
        bytes32 detailsHash;
        uint64 latestShipment;
        uint64 expiry;
        bool counterpartyApproved;
        bool bankApproved;
    }

    Consortium public immutable consortium;
    address public receivables;
    /// The Consents contract: a financier a buyer or seller consented to reads its orders.
    address public consents;
    uint256 public orderCount;

    mapping(uint256 => Order) private _orders;
    mapping(uint256 => mapping(uint256 => Milestone)) private _milestones;
    mapping(uint256 => mapping(uint8 => Document)) private _documents;
    mapping(uint256 => Amendment) private _amendments;
    mapping(uint256 => uint256) private _amendmentCount;

    event OrderProposed(
        uint256 indexed orderId,
        address indexed buyer,
        address indexed seller,
        address buyerBank,
        address sellerBank,
        uint128 amount,
        bytes3 currency,
        bytes3 incoterm,
        bytes32 detailsHash,
        uint64 latestShipment,
        uint64 expiry
    );
    event AttestersNamed(uint256 indexed orderId, address carrier, address inspector);
    event ChargesAgreed(uint256 indexed orderId, Charges charges);
    event MilestoneDefined(uint256 indexed orderId, uint256 index, uint128 amount, uint16 requiredDocs, uint16 tenorDays);
    event OrderAccepted(uint256 indexed orderId, address indexed seller);
    event OrderRejected(uint256 indexed orderId, address indexed seller, string reason);
    event OrderCommitted(uint256 indexed orderId, address indexed buyerBank, Cover cover);
    event CancellationRequested(uint256 indexed orderId, address indexed by);
    event OrderCancelled(uint256 indexed orderId, address indexed by);
    event OrderExpired(uint256 indexed orderId);
    event OrderCompleted(uint256 indexed orderId, uint128 paid);
    event AmendmentProposed(
        uint256 indexed orderId, uint256 amendmentId, address indexed proposer, bytes32 detailsHash, uint64 latestShipment, uint64 expiry
    );
    event AmendmentApproved(uint256 indexed orderId, uint256 amendmentId, address indexed approver);
    event OrderAmended(uint256 indexed orderId, uint256 amendmentId, address indexed approver);
    event DisputeRaised(uint256 indexed orderId, address indexed by, string reason);
    event DisputeResolved(uint256 indexed orderId, address indexed by, string resolution);
    event DocumentSubmitted(uint256 indexed orderId, uint8 indexed docType, bytes32 hash, string uri, uint32 version, uint64 examineBy);
    event DocumentAttested(
        uint256 indexed orderId, uint8 indexed docType, address indexed issuer, bytes32 hash, uint64 examineBy, uint64 shipmentDate
    );
    event DocumentAccepted(uint256 indexed orderId, uint8 indexed docType, bytes32 hash, bool deemed);
    event DocumentRejected(uint256 indexed orderId, uint8 indexed docType, bytes32 hash, string[] discrepancies);
    event MilestoneTriggered(uint256 indexed orderId, uint256 index, uint64 dueDate);
    event PaymentDue(
        uint256 indexed orderId,
        uint256 milestone,
        address indexed payer,
        address indexed payee,
        uint128 amount,
        bytes3 currency,
        uint64 dueDate,
        uint32 attempt
    );
    event PaymentConfirmed(uint256 indexed orderId, uint256 milestone, address indexed payer, address indexed payee, uint128 amount, bytes32 paymentReference);
    event PaymentFailed(
        uint256 indexed orderId, uint256 milestone, address indexed payer, bytes32 paymentReference, bytes4 reasonCode, string reason
    );
    event PaymentDefaulted(uint256 indexed orderId, uint256 milestone, address indexed payer, uint32 failures);
    event ProceedsAssigned(uint256 indexed orderId, uint256 milestone, address indexed payee, uint256 financingId);
    event PayerChanged(uint256 indexed orderId, uint256 milestone, address indexed payer, uint256 financingId);
    event Linked(address receivables, address consents);

    constructor(Consortium consortium_) {
        if (address(consortium_) == address(0)) revert ZeroAddress();
        consortium = consortium_;
    }

    // ------------------------------------------------------------------ setup

    /// @notice Links the Receivables contract (so that it alone may assign proceeds and
    /// payers) and the Consents contract (so that a financier with a firm's live consent may
    /// read that firm's orders), once.
    function setLinks(address receivables_, address consents_) external {
        consortium.requireRole(msg.sender, Roles.OPERATOR);
        if (receivables != address(0)) revert AlreadyLinked();
        if (receivables_ == address(0) || consents_ == address(0)) revert ZeroAddress();
        receivables = receivables_;
        consents = consents_;
        emit Linked(receivables_, consents_);
    }

    // ------------------------------------------------------------------ lifecycle

    function propose(OrderTerms calldata t, MilestoneTerms[] calldata terms) external returns (uint256 orderId) {
        consortium.requireRole(msg.sender, Roles.TRADER);
        consortium.requireRole(t.seller, Roles.TRADER);
        consortium.requireRole(t.buyerBank, Roles.BANK);
        consortium.requireRole(t.sellerBank, Roles.BANK);
        if (t.seller == msg.sender) revert InvalidParties();
        if (t.amount == 0) revert ZeroAmount();
        if (t.amount > MAX_AMOUNT) revert AmountTooLarge(t.amount, MAX_AMOUNT);
        if (!TradeCalendar.isCurrencyCode(t.currency)) revert InvalidCurrency(t.currency);
        if (!TradeCalendar.isIncoterm2020(t.incoterm)) revert InvalidIncoterm(t.incoterm);
        if (t.latestShipment <= block.timestamp || t.expiry < t.latestShipment) {
            revert InvalidDates(t.latestShipment, t.expiry);
        }
        uint8 examDays = t.examinationDays == 0 ? DEFAULT_EXAMINATION_DAYS : t.examinationDays;
        if (examDays > DEFAULT_EXAMINATION_DAYS) revert InvalidExaminationPeriod(t.examinationDays);
        uint256 n = terms.length;
        if (n == 0 || n > MAX_MILESTONES) revert InvalidMilestoneCount(n);

        orderId = ++orderCount;
        Order storage o = _orders[orderId];
        o.buyer = msg.sender;
        o.seller = t.seller;
        o.buyerBank = t.buyerBank;
        o.sellerBank = t.sellerBank;
        o.amount = t.amount;
        o.currency = t.currency;
        o.incoterm = t.incoterm;
        o.state = OrderState.Proposed;
        o.charges = t.charges;
        o.examinationDays = examDays;
        o.milestoneCount = uint8(n);
        o.latestShipment = t.latestShipment;
        o.expiry = t.expiry;
        o.detailsHash = t.detailsHash;
        o.requiredDocs = _defineMilestones(orderId, t, terms);
        _nameAttesters(o, t);

        emit OrderProposed(
            orderId, msg.sender, t.seller, t.buyerBank, t.sellerBank, t.amount, t.currency, t.incoterm, t.detailsHash, t.latestShipment, t.expiry
        );
        if (o.carrier != address(0) || o.inspector != address(0)) emit AttestersNamed(orderId, o.carrier, o.inspector);
        if (t.charges != Charges.Shared) emit ChargesAgreed(orderId, t.charges);
    }

    /// The organisations that attest the documents the terms need: named when the parties
    /// agree the order (required when a milestone needs their document), holding the role,
    /// and never a party to it: a seller holding the carrier role must not attest its own
    /// bill of lading.
    function _nameAttesters(Order storage o, OrderTerms calldata t) private {
        bool needsCarrier = o.requiredDocs & (uint16(1) << uint8(DocType.BillOfLading)) != 0;
        bool needsInspector = o.requiredDocs & (uint16(1) << uint8(DocType.InspectionCertificate)) != 0;
        if (needsCarrier && t.carrier == address(0)) revert CarrierRequired();
        if (needsInspector && t.inspector == address(0)) revert InspectorRequired();
        if (t.carrier != address(0)) {
            _requireAttester(o, t.carrier, Roles.CARRIER);
            o.carrier = t.carrier;
        }
        if (t.inspector != address(0)) {
            _requireAttester(o, t.inspector, Roles.INSPECTOR);
            o.inspector = t.inspector;
        }
    }

    function _requireAttester(Order storage o, address a, uint32 role) private view {
        if (a == o.buyer || a == o.seller || a == o.buyerBank || a == o.sellerBank) revert InvalidAttester(a);
        consortium.requireRole(a, role);
    }

    /// Checks that the terms cover exactly 100% of the amount, with no rounding:
    /// sum(fixed) * 10000 + amount * sum(bps) == amount * 10000. Then stores the amounts:
    /// every fixed milestone exactly as stated, every share milestone its floored share, and
    /// the last share milestone the rounding remainder.
    function _defineMilestones(uint256 orderId, OrderTerms calldata t, MilestoneTerms[] calldata terms)
        private
        returns (uint16 required)
    {
        uint256 n = terms.length;
        uint256 sumFixed;
        uint256 sumBps;
        uint256 lastShare = type(uint256).max;
        for (uint256 i; i < n; ++i) {
            MilestoneTerms calldata m = terms[i];
            bool hasShare = m.shareBps != 0;
            bool hasFixed = m.fixedAmount != 0;
            if (hasShare == hasFixed || m.shareBps > 10_000 || m.requiredDocs == 0 || m.requiredDocs & ~ALL_DOCS != 0) {
                revert InvalidMilestone(i);
            }
            if (m.tenorDays > MAX_TENOR_DAYS) revert InvalidMilestone(i);
            sumFixed += m.fixedAmount;
            sumBps += m.shareBps;
            if (hasShare) lastShare = i;
        }
        uint256 amount = t.amount;
        if (sumFixed > amount || sumFixed * 10_000 + amount * sumBps != amount * 10_000) {
            // Report the coverage in basis points (rounded down) so a caller sees how far off it is.
            revert MilestonesDoNotSum(sumBps + (sumFixed * 10_000) / amount, 10_000);
        }
        uint256 allocated;
        for (uint256 i; i < n; ++i) {
            MilestoneTerms calldata m = terms[i];
            allocated += m.fixedAmount != 0 ? m.fixedAmount : (amount * m.shareBps) / 10_000;
        }
        for (uint256 i; i < n; ++i) {
            MilestoneTerms calldata m = terms[i];
            uint256 share = m.fixedAmount != 0 ? m.fixedAmount : (amount * m.shareBps) / 10_000;
            if (i == lastShare) share += amount - allocated;
            if (share == 0) revert InvalidMilestone(i);
            Milestone storage ms = _milestones[orderId][i];
            ms.amount = uint128(share);
            ms.requiredDocs = m.requiredDocs;
            ms.tenorDays = m.tenorDays;
            ms.payer = t.buyerBank;
            ms.payee = t.seller;
            required |= m.requiredDocs;
            emit MilestoneDefined(orderId, i, uint128(share), m.requiredDocs, m.tenorDays);
        }
    }

    function accept(uint256 orderId) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.seller) revert NotOrderSeller(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        _requireState(o, OrderState.Proposed);
        _requireNotExpired(o);
        o.state = OrderState.Accepted;
        emit OrderAccepted(orderId, msg.sender);
    }

    function reject(uint256 orderId, string calldata reason) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.seller) revert NotOrderSeller(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        _requireState(o, OrderState.Proposed);
        _requireReason(reason);
        o.state = OrderState.Rejected;
        emit OrderRejected(orderId, msg.sender, reason);
    }

    /// @notice The buyer's bank's payment undertaking. From here on the order can no longer
    /// be cancelled; it completes or expires unperformed.
    /// @notice The buyer's bank commits its irrevocable payment undertaking (ICC URDTT art.
    /// 9), stating how it covers it (`cover`): the buyer's funds earmarked, or its own risk.
    function commit(uint256 orderId, Cover cover) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyerBank) revert NotBuyerBank(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        _requireState(o, OrderState.Accepted);
        _requireNotExpired(o);
        o.state = OrderState.Committed;
        o.cover = cover;
        emit OrderCommitted(orderId, msg.sender, cover);
    }

    /// @notice The start of `bank`'s first banking day on or after the day of `ts`, by its
    /// calendar as it stands now: the date a payment `bank` makes at `ts` is executed on.
    function bankingDayOf(address bank, uint64 ts) external view returns (uint64) {
        return uint64(_rollToBankingDay(ts / 1 days, bank, uint64(block.timestamp)) * 1 days);
    }

    /// @notice Cancellation by agreement before commitment: the buyer alone may withdraw
    /// a proposal; once accepted, both parties must ask.
    function cancel(uint256 orderId) external {
        Order storage o = _order(orderId);
        bool isBuyer = msg.sender == o.buyer;
        if (!isBuyer && msg.sender != o.seller) revert NotOrderParty(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        if (o.state == OrderState.Proposed) {
            if (!isBuyer) revert NotOrderBuyer(msg.sender);
        } else if (o.state == OrderState.Accepted) {
            if (o.cancelRequestedBy == address(0)) {
                o.cancelRequestedBy = msg.sender;
                emit CancellationRequested(orderId, msg.sender);
                return;
            }
            if (o.cancelRequestedBy == msg.sender) revert CancellationAlreadyRequested();
        } else {
            revert InvalidState(uint8(o.state));
        }
        o.state = OrderState.Cancelled;
        emit OrderCancelled(orderId, msg.sender);
    }

    /// @notice Anyone may note that an unperformed order ran past its expiry; nothing more
    /// is owed then. Expiry voids only what was not presented in time (UCP 600 art. 6(e)):
    /// an order with a triggered milestone does not expire (that payment is unconditional),
    /// nor does one with a presentation made on or before expiry still awaiting its
    /// issuer's attestation or the bank's decision.
    function expire(uint256 orderId) external {
        Order storage o = _order(orderId);
        OrderState s = o.state;
        if (s != OrderState.Proposed && s != OrderState.Accepted && s != OrderState.Committed) revert InvalidState(uint8(s));
        if (block.timestamp <= o.expiry) revert NotExpiredYet(o.expiry);
        if (o.triggeredCount != 0) revert MilestoneAlreadyTriggered();
        for (uint8 t; t <= uint8(type(DocType).max); ++t) {
            Document storage d = _documents[orderId][t];
            if (d.state != DocState.Submitted) continue;
            if (d.attested || block.timestamp <= _attestBy(o, d)) revert PresentationUnderExamination(t);
        }
        o.state = OrderState.Expired;
        emit OrderExpired(orderId);
    }

    // ------------------------------------------------------------------ amendments

    /// @notice Either trading party proposes new details, shipment date or expiry; it takes
    /// effect when the other approves and, once the buyer's bank has committed, the bank
    /// too: its undertaking is to the terms it committed to. A newer proposal replaces an
    /// older one.
    function proposeAmendment(uint256 orderId, bytes32 detailsHash, uint64 latestShipment, uint64 expiry)
        external
        returns (uint256 amendmentId)
    {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyer && msg.sender != o.seller) revert NotOrderParty(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        OrderState s = o.state;
        if (s != OrderState.Proposed && s != OrderState.Accepted && s != OrderState.Committed) revert InvalidState(uint8(s));
        if (latestShipment <= block.timestamp || expiry < latestShipment) revert InvalidDates(latestShipment, expiry);
        amendmentId = ++_amendmentCount[orderId];
        _amendments[orderId] = Amendment(msg.sender, detailsHash, latestShipment, expiry, false, false);
        emit AmendmentProposed(orderId, amendmentId, msg.sender, detailsHash, latestShipment, expiry);
    }

    function approveAmendment(uint256 orderId, uint256 amendmentId) external {
        Order storage o = _order(orderId);
        Amendment storage a = _amendments[orderId];
        if (a.proposer == address(0)) revert NoPendingAmendment();
        if (amendmentId != _amendmentCount[orderId]) revert StaleAmendment(_amendmentCount[orderId]);
        OrderState s = o.state;
        if (s != OrderState.Proposed && s != OrderState.Accepted && s != OrderState.Committed) revert InvalidState(uint8(s));
        if (msg.sender == o.buyer || msg.sender == o.seller) {
            consortium.requireRole(msg.sender, Roles.TRADER);
            if (a.proposer == msg.sender) revert CannotApproveOwnProposal();
            if (a.counterpartyApproved) revert AlreadyApproved();
            a.counterpartyApproved = true;
        } else if (msg.sender == o.buyerBank && s == OrderState.Committed) {
            consortium.requireRole(msg.sender, Roles.BANK);
            if (a.bankApproved) revert AlreadyApproved();
            a.bankApproved = true;
        } else {
            revert NotOrderParty(msg.sender);
        }
        emit AmendmentApproved(orderId, amendmentId, msg.sender);
        if (!a.counterpartyApproved || (s == OrderState.Committed && !a.bankApproved)) return;
        if (a.latestShipment <= block.timestamp) revert InvalidDates(a.latestShipment, a.expiry);
        o.detailsHash = a.detailsHash;
        o.latestShipment = a.latestShipment;
        o.expiry = a.expiry;
        delete _amendments[orderId];
        emit OrderAmended(orderId, amendmentId, msg.sender);
    }

    // ------------------------------------------------------------------ disputes

    /// @notice A trading party records a dispute about the sale. It is shown to everyone the
    /// order concerns but changes nothing the bank does (UCP 600 art. 4, 5: the undertaking
    /// is separate from the sale and banks deal in documents). One at a time, and at most
    /// `MAX_DISPUTES` in all.
    function raiseDispute(uint256 orderId, string calldata reason) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyer && msg.sender != o.seller) revert NotOrderParty(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        _requireState(o, OrderState.Committed);
        _requireReason(reason);
        if (o.disputeRaisedBy != address(0)) revert DisputeAlreadyOpen();
        if (o.disputes >= MAX_DISPUTES) revert TooManyDisputes(o.disputes);
        o.disputeRaisedBy = msg.sender;
        o.disputes += 1;
        emit DisputeRaised(orderId, msg.sender, reason);
    }

    /// @notice The party that raised the dispute withdraws it, or the operator closes it.
    function resolveDispute(uint256 orderId, string calldata resolution) external {
        Order storage o = _order(orderId);
        if (o.disputeRaisedBy == address(0)) revert NoOpenDispute();
        if (msg.sender == o.disputeRaisedBy) {
            consortium.requireRole(msg.sender, Roles.TRADER);
        } else if (!consortium.hasRole(msg.sender, Roles.OPERATOR)) {
            revert NotDisputeParty(msg.sender);
        }
        _requireReason(resolution);
        o.disputeRaisedBy = address(0);
        emit DisputeResolved(orderId, msg.sender, resolution);
    }

    // ------------------------------------------------------------------ documents

    /// @notice The seller presents a document (its hash; the file stays off chain), on or
    /// before expiry (UCP 600 art. 6(e)). Bills of lading and inspection certificates wait
    /// for their named issuer's attestation before the examination clock starts; the others
    /// are examinable at once.
    function submitDocument(uint256 orderId, uint8 docType, bytes32 hash, string calldata uri) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.seller) revert NotOrderSeller(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        _requireState(o, OrderState.Committed);
        _requireNotExpired(o);
        if (docType > uint8(type(DocType).max)) revert UnknownDocumentType(docType);
        if (o.requiredDocs & (uint16(1) << docType) == 0) revert DocumentNotRequired(docType);
        if (hash == bytes32(0)) revert EmptyHash();
        if (bytes(uri).length > MAX_URI) revert InvalidReason();
        Document storage d = _documents[orderId][docType];
        if (d.state != DocState.None && d.state != DocState.Rejected) revert InvalidDocumentState(docType, uint8(d.state));
        uint64 now_ = uint64(block.timestamp);
        bool needsAttestation = _attester(o, docType) != address(0);
        d.hash = hash;
        d.issuer = msg.sender;
        d.state = DocState.Submitted;
        d.version += 1;
        d.submittedAt = now_;
        d.attested = !needsAttestation;
        d.deemed = false;
        d.shipmentDate = 0;
        d.examinableFrom = needsAttestation ? 0 : now_;
        d.examineBy = needsAttestation ? 0 : _addBankingDays(now_, o.examinationDays, o.buyerBank, now_);
        emit DocumentSubmitted(orderId, docType, hash, uri, d.version, d.examineBy);
    }

    /// @notice The order's named carrier attests a bill of lading, with its on-board date,
    /// and the named inspector an inspection certificate, for the exact hash the seller
    /// presented, within the examination period counted from the presentation. A bill of
    /// lading must show shipment no later than the latest shipment date (art. 20(a)(ii))
    /// and have been presented within 21 calendar days of it (art. 14(c)).
    function attestDocument(uint256 orderId, uint8 docType, bytes32 hash, uint64 shipmentDate) external {
        Order storage o = _order(orderId);
        if (docType > uint8(type(DocType).max)) revert UnknownDocumentType(docType);
        address attester = _attester(o, docType);
        if (attester == address(0) || msg.sender != attester) {
            // An unknown or suspended caller hears that first; any other member is the wrong issuer.
            consortium.requireRole(msg.sender, Roles.ALL);
            revert WrongIssuer(msg.sender, docType);
        }
        consortium.requireRole(msg.sender, docType == uint8(DocType.BillOfLading) ? Roles.CARRIER : Roles.INSPECTOR);
        _requireState(o, OrderState.Committed);
        Document storage d = _documents[orderId][docType];
        if (d.state != DocState.Submitted) revert InvalidDocumentState(docType, uint8(d.state));
        if (d.attested) revert AlreadyAttested(docType);
        if (d.hash != hash) revert HashMismatch(d.hash, hash);
        uint64 deadline = _attestBy(o, d);
        if (block.timestamp > deadline) revert AttestationPeriodOver(deadline);
        if (docType == uint8(DocType.BillOfLading)) {
            _checkShipment(o, d, shipmentDate);
            d.shipmentDate = shipmentDate;
        } else if (shipmentDate != 0) {
            revert InvalidShipmentDate(shipmentDate);
        }
        uint64 now_ = uint64(block.timestamp);
        d.attested = true;
        d.issuer = msg.sender;
        d.examinableFrom = now_;
        d.examineBy = _addBankingDays(now_, o.examinationDays, o.buyerBank, d.submittedAt);
        emit DocumentAttested(orderId, docType, msg.sender, hash, d.examineBy, shipmentDate);
    }

    /// UCP 600 art. 20(a)(ii) and 14(c), by calendar day (UTC): shipped on or before the
    /// latest shipment day, not after the presentation, and presented at most 21 days later.
    function _checkShipment(Order storage o, Document storage d, uint64 shipmentDate) private view {
        if (shipmentDate == 0) revert InvalidShipmentDate(shipmentDate);
        uint64 shipDay = shipmentDate / 1 days;
        uint64 latestDay = o.latestShipment / 1 days;
        uint64 presentedDay = d.submittedAt / 1 days;
        if (shipDay > latestDay) revert LateShipment(shipDay, latestDay);
        if (shipDay > presentedDay) revert InvalidShipmentDate(shipmentDate);
        if (presentedDay > shipDay + PRESENTATION_DAYS_AFTER_SHIPMENT) {
            revert LatePresentation(presentedDay, shipDay + PRESENTATION_DAYS_AFTER_SHIPMENT);
        }
    }

    function acceptDocument(uint256 orderId, uint8 docType) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyerBank) revert NotBuyerBank(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        Document storage d = _examinable(o, orderId, docType);
        _accept(o, d, orderId, docType, false);
    }

    /// @notice UCP 600 art. 16(c)-(d): a refusal is one notice per presentation, stating
    /// every discrepancy, given within the examination period. The presentation then stands
    /// refused: the bank cannot add a discrepancy to it later; the seller may present a
    /// corrected document (a new presentation) before expiry.
    function rejectDocument(uint256 orderId, uint8 docType, string[] calldata discrepancies) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyerBank) revert NotBuyerBank(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        uint256 n = discrepancies.length;
        if (n == 0 || n > MAX_DISCREPANCIES) revert InvalidDiscrepancies(n);
        for (uint256 i; i < n; ++i) {
            _requireReason(discrepancies[i]);
        }
        Document storage d = _examinable(o, orderId, docType);
        if (block.timestamp > d.examineBy) revert ExaminationPeriodOver(d.examineBy);
        d.state = DocState.Rejected;
        emit DocumentRejected(orderId, docType, d.hash, discrepancies);
    }

    /// @notice Deemed acceptance (UCP 600 art. 16(f)): once the examination period has
    /// passed without a refusal, anyone may record the document as accepted; the bank is
    /// precluded from claiming it does not comply.
    function deemAccepted(uint256 orderId, uint8 docType) external {
        Order storage o = _order(orderId);
        Document storage d = _examinable(o, orderId, docType);
        if (block.timestamp <= d.examineBy) revert ExaminationPeriodNotOver(d.examineBy);
        _accept(o, d, orderId, docType, true);
    }

    function _examinable(Order storage o, uint256 orderId, uint8 docType) private view returns (Document storage d) {
        _requireState(o, OrderState.Committed);
        if (docType > uint8(type(DocType).max)) revert UnknownDocumentType(docType);
        d = _documents[orderId][docType];
        if (d.state != DocState.Submitted) revert InvalidDocumentState(docType, uint8(d.state));
        if (!d.attested) revert DocumentNotAttested(docType);
    }

    function _accept(Order storage o, Document storage d, uint256 orderId, uint8 docType, bool deemed) private {
        d.state = DocState.Accepted;
        d.deemed = deemed;
        uint16 accepted = o.acceptedDocs | (uint16(1) << docType);
        o.acceptedDocs = accepted;
        emit DocumentAccepted(orderId, docType, d.hash, deemed);
        uint256 n = o.milestoneCount;
        for (uint256 i; i < n; ++i) {
            Milestone storage m = _milestones[orderId][i];
            if (m.state == MilestoneState.Pending && m.requiredDocs & accepted == m.requiredDocs) {
                m.state = MilestoneState.Triggered;
                m.triggeredAt = uint64(block.timestamp);
                m.dueDate = _dueDate(orderId, m);
                o.triggeredCount += 1;
                emit MilestoneTriggered(orderId, i, m.dueDate);
            }
        }
    }

    /// The due date runs from the complying presentation, not from when the bank acts: the
    /// latest of its documents' presentations (or, for a document deemed accepted, the end
    /// of its examination period), plus the tenor, on the paying bank's next banking day.
    function _dueDate(uint256 orderId, Milestone storage m) private view returns (uint64) {
        uint64 effective;
        uint64 presented;
        for (uint8 t; t <= uint8(type(DocType).max); ++t) {
            if (m.requiredDocs & (uint16(1) << t) == 0) continue;
            Document storage d = _documents[orderId][t];
            uint64 from = d.deemed ? d.examineBy : d.examinableFrom;
            if (from > effective) effective = from;
            if (d.submittedAt > presented) presented = d.submittedAt;
        }
        uint256 day = _rollToBankingDay(effective / 1 days + m.tenorDays, m.payer, presented);
        return uint64(day * 1 days);
    }

    // ------------------------------------------------------------------ payment

    /// @notice From its due date a triggered milestone may be released by anyone (the
    /// settlement worker, a keeper); that emits `PaymentDue` to the payer's bank. After a
    /// failed payment, the payer, the buyer or the payee asks for a new attempt the same
    /// way; after a default only the payee (or the operator) may.
    function releasePayment(uint256 orderId, uint256 index) external {
        _releasePayment(orderId, index);
    }

    /// @notice Many releases in one transaction (see `releasePayment`), all or none.
    function releasePayments(uint256[] calldata orderIds, uint256[] calldata indexes) external {
        if (indexes.length != orderIds.length) revert InvalidReference();
        for (uint256 i; i < orderIds.length; ++i) _releasePayment(orderIds[i], indexes[i]);
    }

    function _releasePayment(uint256 orderId, uint256 index) private {
        Order storage o = _order(orderId);
        _requireState(o, OrderState.Committed);
        Milestone storage m = _milestone(o, orderId, index);
        if (m.state == MilestoneState.Failed) {
            if (msg.sender != m.payer && msg.sender != o.buyer && msg.sender != m.payee) revert NotPayer(msg.sender);
        } else if (m.state == MilestoneState.Defaulted) {
            if (msg.sender != m.payee && !consortium.hasRole(msg.sender, Roles.OPERATOR)) revert NotPayee(msg.sender);
        } else if (m.state != MilestoneState.Triggered) {
            revert InvalidMilestoneState(index, uint8(m.state));
        }
        if (block.timestamp < m.dueDate) revert NotDueYet(m.dueDate);
        m.state = MilestoneState.Due;
        m.attempts += 1;
        emit PaymentDue(orderId, index, m.payer, m.payee, m.amount, o.currency, m.dueDate, m.attempts);
    }

    function confirmPayment(uint256 orderId, uint256 index, bytes32 paymentReference) external {
        _confirmPayment(orderId, index, paymentReference);
    }

    /// @notice Many confirmations in one transaction, as a bank books payments in bulk: each
    /// is checked exactly as `confirmPayment` checks it (the payer, a milestone `Due`, a
    /// reference), so each milestone is still paid once; one that fails reverts the whole
    /// batch, which never half-applies (the payer then confirms the rest one by one).
    function confirmPayments(uint256[] calldata orderIds, uint256[] calldata indexes, bytes32[] calldata refs) external {
        if (indexes.length != orderIds.length || refs.length != orderIds.length) revert InvalidReference();
        for (uint256 i; i < orderIds.length; ++i) _confirmPayment(orderIds[i], indexes[i], refs[i]);
    }

    function _confirmPayment(uint256 orderId, uint256 index, bytes32 paymentReference) private {
        Order storage o = _order(orderId);
        Milestone storage m = _milestone(o, orderId, index);
        if (msg.sender != m.payer) revert NotPayer(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK | Roles.FINANCIER);
        if (m.state != MilestoneState.Due) revert InvalidMilestoneState(index, uint8(m.state));
        if (paymentReference == bytes32(0)) revert InvalidReference();
        m.state = MilestoneState.Paid;
        m.paidAt = uint64(block.timestamp);
        m.paymentRef = paymentReference;
        m.failures = 0;
        o.paid += m.amount;
        emit PaymentConfirmed(orderId, index, msg.sender, m.payee, m.amount, paymentReference);
        // The milestones add up to the amount exactly: all are paid when the amount is.
        if (o.paid == o.amount) {
            o.state = OrderState.Completed;
            emit OrderCompleted(orderId, o.paid);
        }
        if (m.financingId != 0) IFinancingHook(receivables).onMilestonePaid(orderId, index);
    }

    /// @notice The rails refused the payment: the payer states the ISO 20022 status reason
    /// code (e.g. AM04 insufficient funds) and its words. Nothing moves; the parties see the
    /// failure. After `MAX_FAILURES` failures in a row the payer has defaulted: a financier
    /// that took over the payment gives it back to the buyer's bank, whose undertaking
    /// stands, and the milestone is due from it at once; a bank's own default is shown as
    /// such, and the payee may demand again.
    function failPayment(uint256 orderId, uint256 index, bytes32 paymentReference, bytes4 reasonCode, string calldata reason)
        external
    {
        Order storage o = _order(orderId);
        Milestone storage m = _milestone(o, orderId, index);
        if (msg.sender != m.payer) revert NotPayer(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK | Roles.FINANCIER);
        if (m.state != MilestoneState.Due) revert InvalidMilestoneState(index, uint8(m.state));
        if (!_isReasonCode(reasonCode)) revert InvalidReasonCode(reasonCode);
        _requireReason(reason);
        m.failures += 1;
        emit PaymentFailed(orderId, index, msg.sender, paymentReference, reasonCode, reason);
        if (m.failures < MAX_FAILURES) {
            m.state = MilestoneState.Failed;
            return;
        }
        emit PaymentDefaulted(orderId, index, msg.sender, m.failures);
        if (m.financingId != 0 && m.payer != o.buyerBank) {
            uint256 financingId = m.financingId;
            m.payer = o.buyerBank;
            m.financingId = 0;
            m.failures = 0;
            m.state = MilestoneState.Triggered;
            emit PayerChanged(orderId, index, o.buyerBank, financingId);
            IFinancingHook(receivables).onPayerDefaulted(orderId, index);
        } else {
            m.state = MilestoneState.Defaulted;
        }
    }

    /// An ISO 20022 external status reason code: four upper-case letters or digits.
    function _isReasonCode(bytes4 c) private pure returns (bool) {
        for (uint256 i; i < 4; ++i) {
            bytes1 ch = c[i];
            bool letter = ch >= 0x41 && ch <= 0x5a;
            bool digit = ch >= 0x30 && ch <= 0x39;
            if (!letter && !digit) return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ financing hooks

    /// @notice Assignment of proceeds: the financier becomes the payee of a milestone not
    /// yet released. Only the Receivables contract, which enforces one live financing per
    /// receivable and an acknowledged advance, may call it; `financier == seller` returns
    /// the proceeds to the seller.
    function assignProceeds(uint256 orderId, uint256 index, address payee, uint256 financingId) external {
        Milestone storage m = _financeable(orderId, index);
        m.payee = payee;
        m.financingId = financingId;
        emit ProceedsAssigned(orderId, index, payee, financingId);
    }

    /// @notice Payables finance: the financier pays the seller on the due date instead of
    /// the buyer's bank; the buyer's bank repays the financier later, through Receivables.
    /// Receivables calls it only with the seller's and the buyer's bank's approval.
    function assignPayer(uint256 orderId, uint256 index, address payer, uint256 financingId) external {
        Milestone storage m = _financeable(orderId, index);
        m.payer = payer;
        m.financingId = financingId;
        emit PayerChanged(orderId, index, payer, financingId);
    }

    /// @notice A financing ended by agreement before the milestone was released: the
    /// seller is its payee and the buyer's bank its payer again.
    function unassign(uint256 orderId, uint256 index, uint256 financingId) external {
        Milestone storage m = _financeable(orderId, index);
        if (m.financingId != financingId) revert InvalidFinancingState(0);
        Order storage o = _orders[orderId];
        bool payerChanged = m.payer != o.buyerBank;
        m.payee = o.seller;
        m.payer = o.buyerBank;
        m.financingId = 0;
        if (payerChanged) {
            emit PayerChanged(orderId, index, o.buyerBank, financingId);
        } else {
            emit ProceedsAssigned(orderId, index, o.seller, 0);
        }
    }

    function _financeable(uint256 orderId, uint256 index) private view returns (Milestone storage m) {
        if (msg.sender != receivables) revert NotReceivables(msg.sender);
        Order storage o = _order(orderId);
        _requireState(o, OrderState.Committed);
        m = _milestone(o, orderId, index);
        if (m.state != MilestoneState.Pending && m.state != MilestoneState.Triggered) revert InvalidMilestoneState(index, uint8(m.state));
    }

    // ------------------------------------------------------------------ views

    // Need to know: an order, its milestones, documents and amendment are read only by those
    // entitled to them (`_mayView`); anyone else, member or not, gets `NotEntitled`. Storage
    // stays readable to whoever runs a node of the network (see docs/privacy.md), but no
    // member reads another's trade through the suite's own interface, on any EVM network.

    function getOrder(uint256 orderId) external view returns (Order memory) {
        return _viewable(orderId);
    }

    function getMilestone(uint256 orderId, uint256 index) external view returns (Milestone memory) {
        return _milestone(_viewable(orderId), orderId, index);
    }

    function getDocument(uint256 orderId, uint8 docType) external view returns (Document memory) {
        _viewable(orderId);
        return _documents[orderId][docType];
    }

    function pendingAmendment(uint256 orderId) external view returns (Amendment memory) {
        _viewable(orderId);
        return _amendments[orderId];
    }

    /// @notice amount - paid: what the buyer's side still owes on the order.
    function outstanding(uint256 orderId) external view returns (uint128) {
        Order storage o = _viewable(orderId);
        return o.amount - o.paid;
    }

    /// @notice Whether `who` may read order `orderId` (false for an order that does not
    /// exist). One asks about oneself; the operator and the suite's contracts about anyone,
    /// so nobody learns who else is party to an order by asking.
    function mayView(uint256 orderId, address who) external view returns (bool) {
        if (msg.sender != who && !_isSuite(msg.sender) && !consortium.hasRole(msg.sender, Roles.OPERATOR)) {
            revert NotEntitled(msg.sender);
        }
        Order storage o = _orders[orderId];
        return o.state != OrderState.None && _mayView(o, orderId, who);
    }

    // ------------------------------------------------------------------ internals

    function _viewable(uint256 orderId) private view returns (Order storage o) {
        o = _order(orderId);
        if (!_mayView(o, orderId, msg.sender)) revert NotEntitled(msg.sender);
    }

    function _isSuite(address a) private view returns (bool) {
        return a != address(0) && (a == address(this) || a == receivables || a == consents);
    }

    /// The parties (buyer, seller, their banks), the carrier and inspector the order names,
    /// the operator, a financier with the live consent of the buyer or the seller or whose
    /// financing of the order its firm accepted, and the suite's contracts. A suspended
    /// organisation reads nothing, as it does nothing.
    function _mayView(Order storage o, uint256 orderId, address who) private view returns (bool) {
        if (_isSuite(who)) return true;
        if (!consortium.hasRole(who, Roles.ALL)) return false;
        if (who == o.buyer || who == o.seller || who == o.buyerBank || who == o.sellerBank) return true;
        if (who == o.carrier || who == o.inspector) return true;
        if (consortium.hasRole(who, Roles.OPERATOR)) return true;
        if (!consortium.hasRole(who, Roles.FINANCIER)) return false;
        address c = consents;
        if (c != address(0) && (IConsentRegistry(c).hasConsent(o.seller, who) || IConsentRegistry(c).hasConsent(o.buyer, who))) {
            return true;
        }
        return receivables != address(0) && IFinancingHook(receivables).financesOrder(orderId, who);
    }

    function _order(uint256 orderId) private view returns (Order storage o) {
        o = _orders[orderId];
        if (o.state == OrderState.None) revert OrderNotFound(orderId);
    }

    function _milestone(Order storage o, uint256 orderId, uint256 index) private view returns (Milestone storage) {
        if (index >= o.milestoneCount) revert MilestoneNotFound(index);
        return _milestones[orderId][index];
    }

    function _requireState(Order storage o, OrderState s) private view {
        if (o.state != s) revert InvalidState(uint8(o.state));
    }

    function _requireNotExpired(Order storage o) private view {
        if (block.timestamp > o.expiry) revert OrderExpiredAt(o.expiry);
    }

    function _requireReason(string calldata reason) private pure {
        uint256 len = bytes(reason).length;
        if (len == 0 || len > MAX_REASON) revert InvalidReason();
    }

    /// The organisation the order names to attest `docType`; zero when the seller issues it.
    function _attester(Order storage o, uint8 docType) private view returns (address) {
        if (docType == uint8(DocType.BillOfLading)) return o.carrier;
        if (docType == uint8(DocType.InspectionCertificate)) return o.inspector;
        return address(0);
    }

    /// An attested document's issuer attests within the examination period counted from the
    /// presentation; after it the presentation lapses unattested.
    function _attestBy(Order storage o, Document storage d) private view returns (uint64) {
        return _addBankingDays(d.submittedAt, o.examinationDays, o.buyerBank, d.submittedAt);
    }

    /// The last second of the `n`-th banking day of `bank` following the day of `ts`
    /// (UCP 600 art. 14(b): "five banking days following the day of presentation"), by
    /// the bank's calendar as it stood at `asOf`.
    function _addBankingDays(uint64 ts, uint8 n, address bank, uint64 asOf) private view returns (uint64) {
        bool calendar = consortium.holidayChanges(bank) != 0;
        uint256 day = ts / 1 days;
        uint256 added;
        uint256 skipped;
        while (added < n) {
            ++day;
            if (!TradeCalendar.isWeekday(day)) continue;
            if (calendar && skipped < MAX_HOLIDAYS_SKIPPED && consortium.isHoliday(bank, day, asOf)) {
                ++skipped;
                continue;
            }
            ++added;
        }
        return uint64((day + 1) * 1 days - 1);
    }

    /// `day` if it is a banking day of `bank` (by its calendar at `asOf`), else the next one.
    function _rollToBankingDay(uint256 day, address bank, uint64 asOf) private view returns (uint256) {
        bool calendar = consortium.holidayChanges(bank) != 0;
        uint256 skipped;
        bool banking;
        while (!banking) {
            if (!TradeCalendar.isWeekday(day)) {
                ++day;
            } else if (calendar && skipped < MAX_HOLIDAYS_SKIPPED && consortium.isHoliday(bank, day, asOf)) {
                ++skipped;
                ++day;
            } else {
                banking = true;
            }
        }
        return day;
    }
}
