// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./Errors.sol";
import "./Roles.sol";
import {Consortium} from "./Consortium.sol";
import {TradeCalendar} from "./TradeCalendar.sol";

/// @notice What TradeOrders tells the Receivables contract when a financed milestone is
/// paid, so the financing settles without anyone chasing it.
interface IFinancingHook {
    function onMilestonePaid(uint256 orderId, uint256 milestone) external;
}

/// @title TradeOrders
/// @notice Orders between a buyer and a seller, their payment terms as milestones, the
/// documents the terms name, and the payment obligation that follows.
///
/// The buyer's bank commits to an accepted order (a bank payment undertaking). Following
/// ICC URDTT, that undertaking is conditional until the documents a milestone names are
/// accepted, then unconditional: the milestone is triggered, its due date fixed, and from
/// the due date anyone may release it, which emits `PaymentDue` for the paying bank's
/// settlement worker. A dispute raised later does not stop a triggered milestone.
///
/// Amounts are integers in minor units of an ISO 4217 currency. Milestone amounts add up
/// exactly to the order amount: each milestone but the last takes its exact amount or
/// floor(amount * shareBps / 10000); the last takes the remainder.
contract TradeOrders {
    enum OrderState { None, Proposed, Accepted, Rejected, Committed, Completed, Cancelled, Expired, Disputed }
    enum MilestoneState { Pending, Triggered, Due, Paid, Failed }
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

    uint256 public constant MAX_MILESTONES = 8;
    uint16 internal constant ALL_DOCS = (1 << 6) - 1;
    uint8 internal constant DEFAULT_EXAMINATION_DAYS = 5; // UCP 600 art. 14(b): at most five banking days
    uint16 internal constant MAX_TENOR_DAYS = 720;
    uint256 internal constant MAX_REASON = 280;
    uint256 internal constant MAX_URI = 512;

    /// What the buyer proposes.
    struct OrderTerms {
        address seller;
        address buyerBank;
        address sellerBank;
        uint128 amount;
        bytes3 currency;
        bytes3 incoterm;
        bytes32 detailsHash;
        uint64 latestShipment;
        uint64 expiry;
        uint8 examinationDays;
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
        uint128 amount;
        uint128 paid;
        bytes3 currency;
        bytes3 incoterm;
        OrderState state;
        uint8 examinationDays;
        uint8 milestoneCount;
        uint8 triggeredCount;
        uint8 paidCount;
        uint16 requiredDocs;
        uint16 acceptedDocs;
        uint64 latestShipment;
        uint64 expiry;
        uint64 createdAt;
        bytes32 detailsHash;
        address cancelRequestedBy;
        address disputeRaisedBy;
        uint32 disputes;
    }

    struct Milestone {
        uint128 amount;
        uint16 requiredDocs;
        uint16 tenorDays;
        MilestoneState state;
        uint32 attempts;
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
        uint32 version;
        uint64 submittedAt;
        uint64 examineBy;
    }

    struct Amendment {
        address proposer;
        bytes32 detailsHash;
        uint64 latestShipment;
        uint64 expiry;
    }

    Consortium public immutable consortium;
    address public receivables;
    uint256 public orderCount;

    mapping(uint256 => Order) private _orders;
    mapping(uint256 => mapping(uint256 => Milestone)) private _milestones;
    mapping(uint256 => mapping(uint8 => Document)) private _documents;
    mapping(uint256 => Amendment) private _amendments;
    mapping(uint256 => uint256) public amendmentCount;

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
    event MilestoneDefined(uint256 indexed orderId, uint256 index, uint128 amount, uint16 requiredDocs, uint16 tenorDays);
    event OrderAccepted(uint256 indexed orderId, address indexed seller);
    event OrderRejected(uint256 indexed orderId, address indexed seller, string reason);
    event OrderCommitted(uint256 indexed orderId, address indexed buyerBank);
    event CancellationRequested(uint256 indexed orderId, address indexed by);
    event OrderCancelled(uint256 indexed orderId, address indexed by);
    event OrderExpired(uint256 indexed orderId);
    event OrderCompleted(uint256 indexed orderId, uint128 paid);
    event AmendmentProposed(
        uint256 indexed orderId, uint256 amendmentId, address indexed proposer, bytes32 detailsHash, uint64 latestShipment, uint64 expiry
    );
    event OrderAmended(uint256 indexed orderId, uint256 amendmentId, address indexed approver);
    event DisputeRaised(uint256 indexed orderId, address indexed by, string reason);
    event DisputeResolved(uint256 indexed orderId, address indexed by, string resolution);
    event DocumentSubmitted(uint256 indexed orderId, uint8 indexed docType, bytes32 hash, string uri, uint32 version, uint64 examineBy);
    event DocumentAttested(uint256 indexed orderId, uint8 indexed docType, address indexed issuer, bytes32 hash, uint64 examineBy);
    event DocumentAccepted(uint256 indexed orderId, uint8 indexed docType, bytes32 hash, bool deemed);
    event DocumentRejected(uint256 indexed orderId, uint8 indexed docType, bytes32 hash, string reason);
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
    event PaymentFailed(uint256 indexed orderId, uint256 milestone, address indexed payer, bytes32 paymentReference, string reason);
    event ProceedsAssigned(uint256 indexed orderId, uint256 milestone, address indexed payee, uint256 financingId);
    event PayerChanged(uint256 indexed orderId, uint256 milestone, address indexed payer, uint256 financingId);
    event ReceivablesSet(address receivables);

    constructor(Consortium consortium_) {
        if (address(consortium_) == address(0)) revert ZeroAddress();
        consortium = consortium_;
    }

    // ------------------------------------------------------------------ setup

    /// @notice Links the Receivables contract once, so that it alone may assign proceeds.
    function setReceivables(address receivables_) external {
        consortium.requireRole(msg.sender, Roles.OPERATOR);
        if (receivables != address(0)) revert ReceivablesAlreadySet();
        if (receivables_ == address(0)) revert ZeroAddress();
        receivables = receivables_;
        emit ReceivablesSet(receivables_);
    }

    // ------------------------------------------------------------------ lifecycle

    function propose(OrderTerms calldata t, MilestoneTerms[] calldata terms) external returns (uint256 orderId) {
        consortium.requireRole(msg.sender, Roles.TRADER);
        consortium.requireRole(t.seller, Roles.TRADER);
        consortium.requireRole(t.buyerBank, Roles.BANK);
        consortium.requireRole(t.sellerBank, Roles.BANK);
        if (t.seller == msg.sender) revert InvalidParties();
        if (t.amount == 0) revert ZeroAmount();
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
        o.examinationDays = examDays;
        o.milestoneCount = uint8(n);
        o.latestShipment = t.latestShipment;
        o.expiry = t.expiry;
        o.createdAt = uint64(block.timestamp);
        o.detailsHash = t.detailsHash;
        o.requiredDocs = _defineMilestones(orderId, t, terms);

        emit OrderProposed(
            orderId, msg.sender, t.seller, t.buyerBank, t.sellerBank, t.amount, t.currency, t.incoterm, t.detailsHash, t.latestShipment, t.expiry
        );
    }

    /// Checks that the terms cover exactly 100% of the amount, with no rounding:
    /// sum(fixed) * 10000 + amount * sum(bps) == amount * 10000. Then stores the amounts,
    /// the last milestone taking the remainder.
    function _defineMilestones(uint256 orderId, OrderTerms calldata t, MilestoneTerms[] calldata terms)
        private
        returns (uint16 required)
    {
        uint256 n = terms.length;
        uint256 sumFixed;
        uint256 sumBps;
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
        }
        uint256 amount = t.amount;
        if (sumFixed > amount || sumFixed * 10_000 + amount * sumBps != amount * 10_000) {
            // Report the coverage in basis points (rounded down) so a caller sees how far off it is.
            revert MilestonesDoNotSum(sumBps + (sumFixed * 10_000) / amount, 10_000);
        }
        uint256 allocated;
        for (uint256 i; i < n; ++i) {
            MilestoneTerms calldata m = terms[i];
            uint256 share = i + 1 == n ? amount - allocated : (m.fixedAmount != 0 ? m.fixedAmount : (amount * m.shareBps) / 10_000);
            if (share == 0) revert InvalidMilestone(i);
            allocated += share;
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
    /// be cancelled; it completes, expires unperformed, or is disputed.
    function commit(uint256 orderId) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyerBank) revert NotBuyerBank(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        _requireState(o, OrderState.Accepted);
        _requireNotExpired(o);
        o.state = OrderState.Committed;
        emit OrderCommitted(orderId, msg.sender);
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

    /// @notice Any party may note that an unperformed order ran past its expiry; nothing
    /// is owed then. An order with a triggered milestone does not expire: that payment is
    /// unconditional.
    function expire(uint256 orderId) external {
        Order storage o = _order(orderId);
        OrderState s = o.state;
        if (s != OrderState.Proposed && s != OrderState.Accepted && s != OrderState.Committed) revert InvalidState(uint8(s));
        if (block.timestamp <= o.expiry) revert NotExpiredYet(o.expiry);
        if (o.triggeredCount != 0) revert MilestoneAlreadyTriggered();
        o.state = OrderState.Expired;
        emit OrderExpired(orderId);
    }

    // ------------------------------------------------------------------ amendments

    /// @notice Either trading party proposes new details, shipment date or expiry; it takes
    /// effect only when the other approves. A newer proposal replaces an older one.
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
        amendmentId = ++amendmentCount[orderId];
        _amendments[orderId] = Amendment(msg.sender, detailsHash, latestShipment, expiry);
        emit AmendmentProposed(orderId, amendmentId, msg.sender, detailsHash, latestShipment, expiry);
    }

    function approveAmendment(uint256 orderId, uint256 amendmentId) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyer && msg.sender != o.seller) revert NotOrderParty(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        Amendment memory a = _amendments[orderId];
        if (a.proposer == address(0)) revert NoPendingAmendment();
        if (amendmentId != amendmentCount[orderId]) revert StaleAmendment(amendmentCount[orderId]);
        if (a.proposer == msg.sender) revert CannotApproveOwnProposal();
        OrderState s = o.state;
        if (s != OrderState.Proposed && s != OrderState.Accepted && s != OrderState.Committed) revert InvalidState(uint8(s));
        if (a.latestShipment <= block.timestamp) revert InvalidDates(a.latestShipment, a.expiry);
        o.detailsHash = a.detailsHash;
        o.latestShipment = a.latestShipment;
        o.expiry = a.expiry;
        delete _amendments[orderId];
        emit OrderAmended(orderId, amendmentId, msg.sender);
    }

    // ------------------------------------------------------------------ disputes

    function raiseDispute(uint256 orderId, string calldata reason) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyer && msg.sender != o.seller) revert NotOrderParty(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        _requireState(o, OrderState.Committed);
        _requireReason(reason);
        o.state = OrderState.Disputed;
        o.disputeRaisedBy = msg.sender;
        o.disputes += 1;
        emit DisputeRaised(orderId, msg.sender, reason);
    }

    /// @notice The party that raised the dispute withdraws it, or the operator closes it.
    function resolveDispute(uint256 orderId, string calldata resolution) external {
        Order storage o = _order(orderId);
        _requireState(o, OrderState.Disputed);
        if (msg.sender == o.disputeRaisedBy) {
            consortium.requireRole(msg.sender, Roles.TRADER);
        } else if (!consortium.hasRole(msg.sender, Roles.OPERATOR)) {
            revert NotDisputeParty(msg.sender);
        }
        _requireReason(resolution);
        o.disputeRaisedBy = address(0);
        o.state = o.paidCount == o.milestoneCount ? OrderState.Completed : OrderState.Committed;
        emit DisputeResolved(orderId, msg.sender, resolution);
        if (o.state == OrderState.Completed) emit OrderCompleted(orderId, o.paid);
    }

    // ------------------------------------------------------------------ documents

    /// @notice The seller presents a document (its hash; the file stays off chain). Bills
    /// of lading and inspection certificates wait for their issuer's attestation before
    /// the examination clock starts; the others are examinable at once.
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
        d.hash = hash;
        d.issuer = msg.sender;
        d.state = DocState.Submitted;
        d.version += 1;
        d.submittedAt = uint64(block.timestamp);
        bool needsAttestation = _attestingRole(docType) != 0;
        d.attested = !needsAttestation;
        d.examineBy = needsAttestation ? 0 : TradeCalendar.addBankingDays(uint64(block.timestamp), o.examinationDays);
        emit DocumentSubmitted(orderId, docType, hash, uri, d.version, d.examineBy);
    }

    /// @notice The carrier attests a bill of lading, the inspector an inspection
    /// certificate, for the exact hash the seller presented.
    function attestDocument(uint256 orderId, uint8 docType, bytes32 hash) external {
        Order storage o = _order(orderId);
        if (docType > uint8(type(DocType).max)) revert UnknownDocumentType(docType);
        uint32 role = _attestingRole(docType);
        if (role == 0) revert WrongIssuer(msg.sender, docType);
        if (!consortium.hasRole(msg.sender, role)) {
            // An unknown or suspended caller hears that first; a member with another role is the wrong issuer.
            consortium.requireRole(msg.sender, Roles.ALL);
            revert WrongIssuer(msg.sender, docType);
        }
        _requireState(o, OrderState.Committed);
        Document storage d = _documents[orderId][docType];
        if (d.state != DocState.Submitted) revert InvalidDocumentState(docType, uint8(d.state));
        if (d.attested) revert AlreadyAttested(docType);
        if (d.hash != hash) revert HashMismatch(d.hash, hash);
        d.attested = true;
        d.issuer = msg.sender;
        d.examineBy = TradeCalendar.addBankingDays(uint64(block.timestamp), o.examinationDays);
        emit DocumentAttested(orderId, docType, msg.sender, hash, d.examineBy);
    }

    function acceptDocument(uint256 orderId, uint8 docType) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyerBank) revert NotBuyerBank(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        Document storage d = _examinable(o, orderId, docType);
        _accept(o, d, orderId, docType, false);
    }

    /// @notice UCP 600 art. 16: a refusal states its discrepancy and is made within the
    /// examination period; after it the bank is precluded from refusing.
    function rejectDocument(uint256 orderId, uint8 docType, string calldata reason) external {
        Order storage o = _order(orderId);
        if (msg.sender != o.buyerBank) revert NotBuyerBank(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        _requireReason(reason);
        Document storage d = _examinable(o, orderId, docType);
        if (block.timestamp > d.examineBy) revert ExaminationPeriodOver(d.examineBy);
        d.state = DocState.Rejected;
        emit DocumentRejected(orderId, docType, d.hash, reason);
    }

    /// @notice Deemed acceptance: once the examination period has passed without a
    /// decision, anyone may record the document as accepted.
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
        uint16 accepted = o.acceptedDocs | (uint16(1) << docType);
        o.acceptedDocs = accepted;
        emit DocumentAccepted(orderId, docType, d.hash, deemed);
        uint256 n = o.milestoneCount;
        for (uint256 i; i < n; ++i) {
            Milestone storage m = _milestones[orderId][i];
            if (m.state == MilestoneState.Pending && m.requiredDocs & accepted == m.requiredDocs) {
                m.state = MilestoneState.Triggered;
                m.triggeredAt = uint64(block.timestamp);
                m.dueDate = uint64(block.timestamp) + uint64(m.tenorDays) * 1 days;
                o.triggeredCount += 1;
                emit MilestoneTriggered(orderId, i, m.dueDate);
            }
        }
    }

    // ------------------------------------------------------------------ payment

    /// @notice From its due date a triggered milestone may be released by anyone (the
    /// settlement worker, a keeper); that emits `PaymentDue` to the payer's bank. After a
    /// failed payment the payer or the buyer asks for a new attempt the same way.
    function releasePayment(uint256 orderId, uint256 index) external {
        Order storage o = _order(orderId);
        if (o.state != OrderState.Committed && o.state != OrderState.Disputed) revert InvalidState(uint8(o.state));
        Milestone storage m = _milestone(o, orderId, index);
        if (m.state == MilestoneState.Failed) {
            if (msg.sender != m.payer && msg.sender != o.buyer) revert NotPayer(msg.sender);
        } else if (m.state != MilestoneState.Triggered) {
            revert InvalidMilestoneState(index, uint8(m.state));
        }
        if (block.timestamp < m.dueDate) revert NotDueYet(m.dueDate);
        m.state = MilestoneState.Due;
        m.attempts += 1;
        emit PaymentDue(orderId, index, m.payer, m.payee, m.amount, o.currency, m.dueDate, m.attempts);
    }

    function confirmPayment(uint256 orderId, uint256 index, bytes32 paymentReference) external {
        Order storage o = _order(orderId);
        Milestone storage m = _milestone(o, orderId, index);
        if (msg.sender != m.payer) revert NotPayer(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK | Roles.FINANCIER);
        if (m.state != MilestoneState.Due) revert InvalidMilestoneState(index, uint8(m.state));
        if (paymentReference == bytes32(0)) revert InvalidReference();
        m.state = MilestoneState.Paid;
        m.paidAt = uint64(block.timestamp);
        m.paymentRef = paymentReference;
        o.paid += m.amount;
        o.paidCount += 1;
        emit PaymentConfirmed(orderId, index, msg.sender, m.payee, m.amount, paymentReference);
        if (o.paidCount == o.milestoneCount && o.state == OrderState.Committed) {
            o.state = OrderState.Completed;
            emit OrderCompleted(orderId, o.paid);
        }
        if (m.financingId != 0) IFinancingHook(receivables).onMilestonePaid(orderId, index);
    }

    /// @notice The rails refused the payment (e.g. pain.002 RJCT AM04). Nothing moves;
    /// the parties see the failure and a new attempt may be released.
    function failPayment(uint256 orderId, uint256 index, bytes32 paymentReference, string calldata reason) external {
        Order storage o = _order(orderId);
        Milestone storage m = _milestone(o, orderId, index);
        if (msg.sender != m.payer) revert NotPayer(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK | Roles.FINANCIER);
        if (m.state != MilestoneState.Due) revert InvalidMilestoneState(index, uint8(m.state));
        _requireReason(reason);
        m.state = MilestoneState.Failed;
        emit PaymentFailed(orderId, index, msg.sender, paymentReference, reason);
    }

    // ------------------------------------------------------------------ financing hooks

    /// @notice Assignment of proceeds: the financier becomes the payee of a milestone not
    /// yet released. Only the Receivables contract, which enforces one live financing per
    /// receivable, may call it; `financier == seller` returns the proceeds to the seller.
    function assignProceeds(uint256 orderId, uint256 index, address payee, uint256 financingId) external {
        Milestone storage m = _financeable(orderId, index);
        m.payee = payee;
        m.financingId = financingId;
        emit ProceedsAssigned(orderId, index, payee, financingId);
    }

    /// @notice Payables finance: the financier pays the seller on the due date instead of
    /// the buyer's bank; the buyer repays the financier later, through Receivables.
    function assignPayer(uint256 orderId, uint256 index, address payer, uint256 financingId) external {
        Milestone storage m = _financeable(orderId, index);
        m.payer = payer;
        m.financingId = financingId;
        emit PayerChanged(orderId, index, payer, financingId);
    }

    function _financeable(uint256 orderId, uint256 index) private view returns (Milestone storage m) {
        if (msg.sender != receivables) revert NotReceivables(msg.sender);
        Order storage o = _order(orderId);
        if (o.state != OrderState.Committed) revert InvalidState(uint8(o.state));
        m = _milestone(o, orderId, index);
        if (m.state != MilestoneState.Pending && m.state != MilestoneState.Triggered) revert InvalidMilestoneState(index, uint8(m.state));
    }

    // ------------------------------------------------------------------ views

    function getOrder(uint256 orderId) external view returns (Order memory) {
        return _order(orderId);
    }

    function getMilestone(uint256 orderId, uint256 index) external view returns (Milestone memory) {
        return _milestone(_order(orderId), orderId, index);
    }

    function getDocument(uint256 orderId, uint8 docType) external view returns (Document memory) {
        _order(orderId);
        return _documents[orderId][docType];
    }

    function pendingAmendment(uint256 orderId) external view returns (Amendment memory) {
        return _amendments[orderId];
    }

    /// @notice amount - paid: what the buyer's side still owes on the order.
    function outstanding(uint256 orderId) external view returns (uint128) {
        Order storage o = _order(orderId);
        return o.amount - o.paid;
    }

    // ------------------------------------------------------------------ internals

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

    /// The role that issues a document type and must attest it; 0 when the seller issues it.
    function _attestingRole(uint8 docType) private pure returns (uint32) {
        if (docType == uint8(DocType.BillOfLading)) return Roles.CARRIER;
        if (docType == uint8(DocType.InspectionCertificate)) return Roles.INSPECTOR;
        return 0;
    }
}
