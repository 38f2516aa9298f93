// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import "./Errors.sol";
import "./Roles.sol";
import {Consortium} from "./Consortium.sol";
import {TradeOrders, IConsentRegistry} from "./TradeOrders.sol";

/// @title Receivables
/// @notice Financing of an order's future milestone payments, and the registry that stops
/// the sector's best-known fraud: the same receivable, invoice or bill of lading financed
/// twice.
///
/// A receivable is one milestone of one order. At most one financing of it is binding at a
/// time, and every binding financing registers the salted fingerprints of its documents,
/// bound on chain to the order's seller and buyer (so nobody can register, or squat, a
/// fingerprint of another seller's invoice), and a second financing of the same documents
/// under another order or by another financier reverts.
///
/// Receivables finance: a financier advances the seller part of a milestone. The seller's
/// acceptance only reserves the receivable; the assignment of proceeds takes effect once
/// the financier has recorded that it paid the advance the offer states and the seller
/// has acknowledged receiving it. An offer not advanced by its deadline lapses and
/// releases the receivable. Payables finance: the financier pays the seller on the due
/// date and the buyer's bank repays it `extraDays` later, plus a fee: the buyer takes the
/// offer, and the change of payer takes effect only once the seller and the buyer's bank
/// (who pays the fee) have approved it.
contract Receivables is ReentrancyGuard {
    enum Kind { Receivable, Payable }
    enum FinancingState {
        None,
        Offered,
        Live,
        AwaitingRepayment,
        RepaymentDue,
        Settled,
        Declined,
        Withdrawn,
        /// Taken by the firm: the receivable is reserved, awaiting the advance (receivables)
        /// or the seller's and the buyer's bank's approvals (payables).
        Accepted,
        /// Not made binding by its deadline, or its order ended: released.
        Lapsed,
        /// Ended by agreement of the financier and the firm: released.
        Cancelled,
        /// Payables: the financier did not pay the seller; the buyer's bank pays instead.
        Defaulted
    }

    uint256 public constant MAX_FINGERPRINTS = 8;
    uint16 internal constant MAX_EXTRA_DAYS = 360;
    /// A payables fee is at most this share of the milestone (25 %).
    uint16 public constant MAX_FEE_BPS = 2_500;
    uint8 internal constant MAX_DEADLINE_DAYS = 30;
    uint8 internal constant INVOICE_BIT = uint8(TradeOrders.DocType.CommercialInvoice);

    struct Financing {
        Kind kind;
        FinancingState state;
        address financier;
        address firm;
        uint256 orderId;
        uint256 milestone;
        uint128 receivable;
        uint128 advance;
        uint128 repaymentAmount;
        uint16 rateBps;
        uint16 extraDays;
        uint8 deadlineDays;
        uint64 offeredAt;
        uint64 acceptedAt;
        uint64 deadline;
        uint64 repaymentDue;
        bool sellerApproved;
        bool bankApproved;
        address cancelRequestedBy;
        bytes32 advanceRef;
        bytes32 repaymentRef;
    }

    /// An offer's document fingerprints (salted digests; nothing readable): the invoice's,
    /// required when the milestone needs a commercial invoice, and any others (the bill of
    /// lading's, say). The contract binds each to the order's seller and buyer.
    struct Fingerprints {
        bytes32 invoice;
        bytes32[] documents;
    }

    Consortium public immutable consortium;
    TradeOrders public immutable orders;
    uint256 public financingCount;

    mapping(uint256 => Financing) private _financings;
    mapping(uint256 => bytes32[]) private _fingerprints;
    /// keccak256(orderId, milestone) => the binding financing of that receivable, or 0.
    mapping(bytes32 => uint256) private _liveFinancingOf;
    /// bound fingerprint => the binding financing that registered it, or 0.
    mapping(bytes32 => uint256) private _fingerprintOwner;
    /// orderId => financier => its financings of the order that the firm accepted: such a
    /// financier keeps reading the order it financed (TradeOrders asks `financesOrder`).
    mapping(uint256 => mapping(address => uint256)) private _acceptedFinancings;

    /// Salted digests of an invoice (nothing readable): `key` of its seller and normalised
    /// number, and under that key one digest each of its amount and currency, its date and
    /// its buyer. A zero `key` records nothing.
    struct NearKeys {
        bytes32 key;
        bytes32 amount;
        bytes32 date;
        bytes32 buyer;
    }

    event FinancingOffered(
        uint256 indexed financingId,
        uint256 indexed orderId,
        address indexed financier,
        uint256 milestone,
        Kind kind,
        uint128 amount,
        uint16 rateBps,
        uint16 extraDays
    );
    /// Near-duplicate review keys of a financing's invoice, recorded with its offer so every
    /// node of the consortium can flag a later offer of the same invoice number and seller
    /// whose amount, date or buyer differs (the exact match is refused by fingerprint).
    event NearKeysRecorded(uint256 indexed financingId, bytes32 indexed nearKey, bytes32 amount, bytes32 date, bytes32 buyer);
    event FinancingAccepted(uint256 indexed financingId, uint256 indexed orderId, address indexed firm, uint64 deadline);
    event FinancingApproved(uint256 indexed financingId, address indexed approver);
    event FinancingLive(uint256 indexed financingId, uint256 indexed orderId);
    event FinancingDeclined(uint256 indexed financingId, address indexed firm);
    event FinancingWithdrawn(uint256 indexed financingId, address indexed financier);
    event FinancingLapsed(uint256 indexed financingId, uint256 indexed orderId);
    event FinancingCancellationRequested(uint256 indexed financingId, address indexed by);
    event FinancingCancelled(uint256 indexed financingId, uint256 indexed orderId);
    event FinancingDefaulted(uint256 indexed financingId, uint256 indexed orderId);
    event FingerprintRegistered(bytes32 indexed fingerprint, uint256 indexed financingId);
    event FingerprintReleased(bytes32 indexed fingerprint, uint256 indexed financingId);
    event AdvancePaid(uint256 indexed financingId, address indexed financier, uint128 amount, bytes32 paymentReference);
    event AdvanceAcknowledged(uint256 indexed financingId, address indexed firm);
    event RepaymentScheduled(uint256 indexed financingId, uint64 dueDate, uint128 amount);
    event RepaymentDue(
        uint256 indexed financingId,
        uint256 indexed orderId,
        address indexed payer,
        address payee,
        uint128 amount,
        bytes3 currency,
        uint64 dueDate
    );
    event RepaymentConfirmed(uint256 indexed financingId, address indexed payer, bytes32 paymentReference);
    event FinancingSettled(uint256 indexed financingId, uint256 indexed orderId);

    constructor(Consortium consortium_, TradeOrders orders_) {
        if (address(consortium_) == address(0) || address(orders_) == address(0)) revert ZeroAddress();
        consortium = consortium_;
        orders = orders_;
    }

    // ------------------------------------------------------------------ offers

    /// @notice Offer to advance `advance` (minor units, at most the milestone amount) to the
    /// seller against one milestone, at a discount rate in basis points, the advance to be
    /// paid and acknowledged within `deadlineDays` of the seller's acceptance.
    function offerReceivableFinance(
        uint256 orderId,
        uint256 milestone,
        uint128 advance,
        uint16 discountBps,
        uint8 deadlineDays,
        Fingerprints calldata fps,
        NearKeys calldata near
    ) external nonReentrant returns (uint256 financingId) {
        (TradeOrders.Order memory o, TradeOrders.Milestone memory m) = _financeable(orderId, milestone, Kind.Receivable);
        if (advance == 0 || advance > m.amount) revert InvalidAdvance(advance, m.amount);
        if (discountBps > 10_000) revert InvalidRate(discountBps);
        financingId = _offer(Kind.Receivable, o.seller, o, m, orderId, milestone, advance, advance, discountBps, 0, deadlineDays, fps);
        _recordNear(financingId, near);
    }

    /// @notice Offer the buyer `extraDays` more to pay: the financier pays the seller on the
    /// due date; the buyer's bank repays the milestone amount plus `feeBps` (at most
    /// `MAX_FEE_BPS`) later, once the seller and the buyer's bank have approved.
    function offerPayablesFinance(
        uint256 orderId,
        uint256 milestone,
        uint16 extraDays,
        uint16 feeBps,
        uint8 deadlineDays,
        Fingerprints calldata fps,
        NearKeys calldata near
    ) external nonReentrant returns (uint256 financingId) {
        (TradeOrders.Order memory o, TradeOrders.Milestone memory m) = _financeable(orderId, milestone, Kind.Payable);
        if (extraDays == 0 || extraDays > MAX_EXTRA_DAYS) revert InvalidTenor(extraDays);
        if (feeBps > MAX_FEE_BPS) revert InvalidFee(feeBps, MAX_FEE_BPS);
        uint128 repayment = m.amount + uint128((uint256(m.amount) * feeBps) / 10_000);
        financingId = _offer(Kind.Payable, o.buyer, o, m, orderId, milestone, m.amount, repayment, feeBps, extraDays, deadlineDays, fps);
        _recordNear(financingId, near);
    }

    function _recordNear(uint256 financingId, NearKeys calldata near) private {
        if (near.key != bytes32(0)) emit NearKeysRecorded(financingId, near.key, near.amount, near.date, near.buyer);
    }

    function _offer(
        Kind kind,
        address firm,
        TradeOrders.Order memory o,
        TradeOrders.Milestone memory m,
        uint256 orderId,
        uint256 milestone,
        uint128 advance,
        uint128 repayment,
        uint16 rateBps,
        uint16 extraDays,
        uint8 deadlineDays,
        Fingerprints calldata fps
    ) private returns (uint256 financingId) {
        if (deadlineDays == 0 || deadlineDays > MAX_DEADLINE_DAYS) revert InvalidDeadline(deadlineDays);
        bytes32[] memory bound = _bind(o, m, fps);
        _requireFree(orderId, milestone, bound);
        financingId = ++financingCount;
        Financing storage f = _financings[financingId];
        f.kind = kind;
        f.state = FinancingState.Offered;
        f.financier = msg.sender;
        f.firm = firm;
        f.orderId = orderId;
        f.milestone = milestone;
        f.receivable = m.amount;
        f.advance = advance;
        f.repaymentAmount = repayment;
        f.rateBps = rateBps;
        f.extraDays = extraDays;
        f.deadlineDays = deadlineDays;
        f.offeredAt = uint64(block.timestamp);
        _fingerprints[financingId] = bound;
        emit FinancingOffered(financingId, orderId, msg.sender, milestone, kind, kind == Kind.Receivable ? advance : repayment, rateBps, extraDays);
    }

    /// The fingerprints as registered: each bound to the order's seller and buyer, the
    /// invoice's required when the milestone needs a commercial invoice.
    function _bind(TradeOrders.Order memory o, TradeOrders.Milestone memory m, Fingerprints calldata fps)
        private
        pure
        returns (bytes32[] memory bound)
    {
        bool needsInvoice = m.requiredDocs & (uint16(1) << INVOICE_BIT) != 0;
        if (needsInvoice && fps.invoice == bytes32(0)) revert MissingInvoiceFingerprint();
        uint256 extra = fps.invoice == bytes32(0) ? 0 : 1;
        uint256 n = fps.documents.length + extra;
        if (n > MAX_FINGERPRINTS) revert TooManyFingerprints(n);
        bound = new bytes32[](n);
        if (extra == 1) bound[0] = keccak256(abi.encode(fps.invoice, o.seller, o.buyer));
        for (uint256 i; i < fps.documents.length; ++i) {
            if (fps.documents[i] == bytes32(0)) revert EmptyHash();
            bound[i + extra] = keccak256(abi.encode(fps.documents[i], o.seller, o.buyer));
        }
    }

    /// @notice The firm (the seller for receivables, the buyer for payables) takes the
    /// offer, which reserves the receivable and registers its fingerprints until the
    /// deadline: this is where "at most one binding financing" is enforced, a second
    /// acceptance of the same receivable or of the same fingerprints reverts.
    function accept(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.firm) revert NotFinancedFirm(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        if (f.state != FinancingState.Offered) revert InvalidFinancingState(uint8(f.state));
        _financeableMilestone(f.orderId, f.milestone);
        bytes32[] storage fps = _fingerprints[financingId];
        _requireFree(f.orderId, f.milestone, fps);
        f.state = FinancingState.Accepted;
        f.acceptedAt = uint64(block.timestamp);
        f.deadline = uint64(block.timestamp) + uint64(f.deadlineDays) * 1 days;
        _acceptedFinancings[f.orderId][f.financier] += 1;
        _liveFinancingOf[_key(f.orderId, f.milestone)] = financingId;
        for (uint256 i; i < fps.length; ++i) {
            _fingerprintOwner[fps[i]] = financingId;
            emit FingerprintRegistered(fps[i], financingId);
        }
        emit FinancingAccepted(financingId, f.orderId, msg.sender, f.deadline);
    }

    /// @notice Payables: the seller (its payer changes) and the buyer's bank (it repays the
    /// financier, fee included) approve the buyer's acceptance; with both, the financier
    /// becomes the payer.
    function approve(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (f.kind != Kind.Payable || f.state != FinancingState.Accepted) revert InvalidFinancingState(uint8(f.state));
        _requireBeforeDeadline(f);
        TradeOrders.Order memory o = orders.getOrder(f.orderId);
        if (msg.sender == o.seller) {
            consortium.requireRole(msg.sender, Roles.TRADER);
            if (f.sellerApproved) revert AlreadyApproved();
            f.sellerApproved = true;
        } else if (msg.sender == o.buyerBank) {
            consortium.requireRole(msg.sender, Roles.BANK);
            if (f.bankApproved) revert AlreadyApproved();
            f.bankApproved = true;
        } else {
            revert NotOrderParty(msg.sender);
        }
        emit FinancingApproved(financingId, msg.sender);
        if (f.sellerApproved && f.bankApproved) _goLive(financingId, f);
    }

    function decline(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.firm) revert NotFinancedFirm(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        if (f.state != FinancingState.Offered) revert InvalidFinancingState(uint8(f.state));
        f.state = FinancingState.Declined;
        emit FinancingDeclined(financingId, msg.sender);
    }

    function withdraw(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.financier) revert NotFinancier(msg.sender);
        consortium.requireRole(msg.sender, Roles.FINANCIER);
        if (f.state != FinancingState.Offered) revert InvalidFinancingState(uint8(f.state));
        f.state = FinancingState.Withdrawn;
        emit FinancingWithdrawn(financingId, msg.sender);
    }

    /// @notice Receivables: the financier records that it paid the seller the advance the
    /// offer states (off-chain rails), before the deadline.
    function confirmAdvance(uint256 financingId, bytes32 paymentReference) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.financier) revert NotFinancier(msg.sender);
        consortium.requireRole(msg.sender, Roles.FINANCIER);
        if (f.kind != Kind.Receivable || f.state != FinancingState.Accepted || f.advanceRef != bytes32(0)) {
            revert InvalidFinancingState(uint8(f.state));
        }
        _requireBeforeDeadline(f);
        if (paymentReference == bytes32(0)) revert InvalidReference();
        f.advanceRef = paymentReference;
        emit AdvancePaid(financingId, msg.sender, f.advance, paymentReference);
    }

    /// @notice Receivables: the seller acknowledges it received the advance; only now are
    /// the milestone's proceeds assigned to the financier.
    function acknowledgeAdvance(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.firm) revert NotFinancedFirm(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        if (f.kind != Kind.Receivable || f.state != FinancingState.Accepted) revert InvalidFinancingState(uint8(f.state));
        if (f.advanceRef == bytes32(0)) revert AdvanceNotRecorded();
        emit AdvanceAcknowledged(financingId, msg.sender);
        _goLive(financingId, f);
    }

    function _goLive(uint256 financingId, Financing storage f) private {
        f.state = FinancingState.Live;
        emit FinancingLive(financingId, f.orderId);
        if (f.kind == Kind.Receivable) {
            orders.assignProceeds(f.orderId, f.milestone, f.financier, financingId);
        } else {
            orders.assignPayer(f.orderId, f.milestone, f.financier, financingId);
        }
    }

    // ------------------------------------------------------------------ exits

    /// @notice Anyone releases a reservation nobody made binding by its deadline, or a
    /// financing whose order ended (expired, cancelled, rejected) before it was paid: the
    /// receivable and its fingerprints are free again.
    function lapse(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        TradeOrders.OrderState os = orders.getOrder(f.orderId).state;
        bool orderEnded =
            os == TradeOrders.OrderState.Expired || os == TradeOrders.OrderState.Cancelled || os == TradeOrders.OrderState.Rejected;
        if (f.state == FinancingState.Accepted) {
            if (!orderEnded && block.timestamp <= f.deadline) revert DeadlineNotPassed(f.deadline);
        } else if (f.state == FinancingState.Live || f.state == FinancingState.Offered) {
            if (!orderEnded) revert FinancingStillBinding(uint8(os));
        } else {
            revert InvalidFinancingState(uint8(f.state));
        }
        bool reserved = f.state != FinancingState.Offered;
        f.state = FinancingState.Lapsed;
        if (reserved) _release(financingId, f);
        emit FinancingLapsed(financingId, f.orderId);
    }

    /// @notice Cancellation by agreement: the financier and the firm each ask; on the
    /// second, the financing ends and, if it was binding, the seller is the milestone's
    /// payee and the buyer's bank its payer again (not once the payment is under way).
    function cancel(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.financier && msg.sender != f.firm) revert NotOrderParty(msg.sender);
        consortium.requireRole(msg.sender, Roles.FINANCIER | Roles.TRADER);
        if (f.state != FinancingState.Accepted && f.state != FinancingState.Live) revert InvalidFinancingState(uint8(f.state));
        if (f.cancelRequestedBy == address(0)) {
            f.cancelRequestedBy = msg.sender;
            emit FinancingCancellationRequested(financingId, msg.sender);
            return;
        }
        if (f.cancelRequestedBy == msg.sender) revert CancellationAlreadyRequested();
        bool live = f.state == FinancingState.Live;
        f.state = FinancingState.Cancelled;
        _release(financingId, f);
        emit FinancingCancelled(financingId, f.orderId);
        if (live) orders.unassign(f.orderId, f.milestone, financingId);
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Called by TradeOrders when a financed milestone is confirmed paid: a
    /// receivables financing is settled (the financier got the proceeds); a payables
    /// financing starts its repayment term.
    function onMilestonePaid(uint256 orderId, uint256 milestone) external nonReentrant {
        if (msg.sender != address(orders)) revert NotOrderParty(msg.sender);
        uint256 financingId = _liveFinancingOf[_key(orderId, milestone)];
        if (financingId == 0) return;
        Financing storage f = _financings[financingId];
        if (f.state != FinancingState.Live) return;
        if (f.kind == Kind.Receivable) {
            f.state = FinancingState.Settled;
            _release(financingId, f);
            emit FinancingSettled(financingId, f.orderId);
        } else {
            f.state = FinancingState.AwaitingRepayment;
            // Due on the repaying bank's banking day (the buyer's bank's calendar).
            uint64 due = uint64(block.timestamp) + uint64(f.extraDays) * 1 days;
            f.repaymentDue = orders.bankingDayOf(orders.getOrder(orderId).buyerBank, due);
            emit RepaymentScheduled(financingId, f.repaymentDue, f.repaymentAmount);
        }
    }

    /// @notice Called by TradeOrders when a payables financier defaulted on paying the
    /// seller: the buyer's bank pays instead, and the financing ends without its fee.
    function onPayerDefaulted(uint256 orderId, uint256 milestone) external nonReentrant {
        if (msg.sender != address(orders)) revert NotOrderParty(msg.sender);
        uint256 financingId = _liveFinancingOf[_key(orderId, milestone)];
        if (financingId == 0) return;
        Financing storage f = _financings[financingId];
        f.state = FinancingState.Defaulted;
        _release(financingId, f);
        emit FinancingDefaulted(financingId, orderId);
    }

    /// @notice From the extended due date anyone may release the buyer's repayment, which
    /// tells the buyer's bank to pay the financier.
    function releaseRepayment(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (f.state != FinancingState.AwaitingRepayment) revert InvalidFinancingState(uint8(f.state));
        if (block.timestamp < f.repaymentDue) revert RepaymentNotDue(f.repaymentDue);
        f.state = FinancingState.RepaymentDue;
        TradeOrders.Order memory o = orders.getOrder(f.orderId);
        emit RepaymentDue(financingId, f.orderId, o.buyerBank, f.financier, f.repaymentAmount, o.currency, f.repaymentDue);
    }

    function confirmRepayment(uint256 financingId, bytes32 paymentReference) external nonReentrant {
        Financing storage f = _financing(financingId);
        TradeOrders.Order memory o = orders.getOrder(f.orderId);
        if (msg.sender != o.buyerBank) revert NotPayer(msg.sender);
        consortium.requireRole(msg.sender, Roles.BANK);
        if (f.state != FinancingState.RepaymentDue) revert InvalidFinancingState(uint8(f.state));
        if (paymentReference == bytes32(0)) revert InvalidReference();
        f.repaymentRef = paymentReference;
        f.state = FinancingState.Settled;
        emit RepaymentConfirmed(financingId, msg.sender, paymentReference);
        _release(financingId, f);
        emit FinancingSettled(financingId, f.orderId);
    }

    /// Free the receivable and the fingerprints a financing held.
    function _release(uint256 financingId, Financing storage f) private {
        bytes32 key = _key(f.orderId, f.milestone);
        if (_liveFinancingOf[key] == financingId) delete _liveFinancingOf[key];
        bytes32[] storage fps = _fingerprints[financingId];
        for (uint256 i; i < fps.length; ++i) {
            if (_fingerprintOwner[fps[i]] == financingId) {
                delete _fingerprintOwner[fps[i]];
                emit FingerprintReleased(fps[i], financingId);
            }
        }
    }

    // ------------------------------------------------------------------ views

    /// Need to know: a financing is read by its financier, its firm, the parties of its order
    /// (buyer, seller and their banks), the operator and TradeOrders; anyone else gets
    /// `NotEntitled`, a financier the firm consented to included (it sees the firm's trade,
    /// not its competitors' terms).
    function getFinancing(uint256 financingId) external view returns (Financing memory) {
        return _viewable(financingId);
    }

    /// @notice The fingerprints a financing registers, as bound to its order's parties.
    function fingerprintsOf(uint256 financingId) external view returns (bytes32[] memory) {
        _viewable(financingId);
        return _fingerprints[financingId];
    }

    /// @notice The financing that holds a receivable (accepted by its firm and not yet
    /// released: reserved, live, or awaiting repayment), or 0: the double-financing check a
    /// lender makes first. Read by those who may see the order.
    function financingOf(uint256 orderId, uint256 milestone) external view returns (uint256) {
        if (!orders.mayView(orderId, msg.sender)) revert NotEntitled(msg.sender);
        return _liveFinancingOf[_key(orderId, milestone)];
    }

    /// @notice Whether `financier` holds a financing of order `orderId` that its firm
    /// accepted. Asked by TradeOrders, or by the financier about itself.
    function financesOrder(uint256 orderId, address financier) external view returns (bool) {
        if (msg.sender != address(orders) && msg.sender != financier) revert NotEntitled(msg.sender);
        return _acceptedFinancings[orderId][financier] != 0;
    }

    // ------------------------------------------------------------------ internals

    /// Only a financier the firm lets see its trade (a live consent in Consents: the seller's
    /// for receivables, the buyer's for payables) may offer. Without that, every refusal of
    /// an offer, simulated for free, would tell a stranger the order's state, its amounts and
    /// whether it is financed.
    function _financeable(uint256 orderId, uint256 milestone, Kind kind)
        private
        view
        returns (TradeOrders.Order memory o, TradeOrders.Milestone memory m)
    {
        consortium.requireRole(msg.sender, Roles.FINANCIER);
        o = orders.getOrder(orderId);
        address firm = kind == Kind.Receivable ? o.seller : o.buyer;
        address c = orders.consents();
        if (c == address(0) || !IConsentRegistry(c).hasConsent(firm, msg.sender)) revert NotEntitled(msg.sender);
        m = _financeableMilestoneOf(o, orderId, milestone);
        if (msg.sender == o.buyer || msg.sender == o.seller) revert InvalidParties();
    }

    function _viewable(uint256 financingId) private view returns (Financing storage f) {
        f = _financing(financingId);
        address who = msg.sender;
        if (who == address(orders)) return f;
        if (consortium.hasRole(who, Roles.ALL)) {
            if (who == f.financier || who == f.firm || consortium.hasRole(who, Roles.OPERATOR)) return f;
            TradeOrders.Order memory o = orders.getOrder(f.orderId);
            if (who == o.buyer || who == o.seller || who == o.buyerBank || who == o.sellerBank) return f;
        }
        revert NotEntitled(who);
    }

    function _financeableMilestone(uint256 orderId, uint256 milestone)
        private
        view
        returns (TradeOrders.Order memory o, TradeOrders.Milestone memory m)
    {
        o = orders.getOrder(orderId);
        m = _financeableMilestoneOf(o, orderId, milestone);
    }

    function _financeableMilestoneOf(TradeOrders.Order memory o, uint256 orderId, uint256 milestone)
        private
        view
        returns (TradeOrders.Milestone memory m)
    {
        m = orders.getMilestone(orderId, milestone);
        if (o.state != TradeOrders.OrderState.Committed) revert InvalidState(uint8(o.state));
        if (m.state != TradeOrders.MilestoneState.Pending && m.state != TradeOrders.MilestoneState.Triggered) {
            revert ReceivableNotFinanceable(orderId, milestone);
        }
        if (m.financingId != 0) revert ReceivableAlreadyFinanced(orderId, milestone, m.financingId);
    }

    function _requireBeforeDeadline(Financing storage f) private view {
        if (block.timestamp > f.deadline) revert DeadlinePassed(f.deadline);
    }

    function _requireFree(uint256 orderId, uint256 milestone, bytes32[] memory fps) private view {
        uint256 live = _liveFinancingOf[_key(orderId, milestone)];
        if (live != 0) revert ReceivableAlreadyFinanced(orderId, milestone, live);
        for (uint256 i; i < fps.length; ++i) {
            uint256 owner = _fingerprintOwner[fps[i]];
            if (owner != 0) revert DuplicateFingerprint(fps[i], owner);
        }
    }

    function _financing(uint256 financingId) private view returns (Financing storage f) {
        f = _financings[financingId];
        if (f.state == FinancingState.None) revert FinancingNotFound(financingId);
    }

    function _key(uint256 orderId, uint256 milestone) private pure returns (bytes32) {
        return keccak256(abi.encode(orderId, milestone));
    }
}
