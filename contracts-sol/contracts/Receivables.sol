// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import "./Errors.sol";
import "./Roles.sol";
import {Consortium} from "./Consortium.sol";
import {TradeOrders} from "./TradeOrders.sol";

/// @title Receivables
/// @notice Financing of an order's future milestone payments, and the registry that stops
/// the sector's best-known fraud: the same receivable, invoice or bill of lading financed
/// twice.
///
/// A receivable is one milestone of one order. At most one financing of it is live at a
/// time, and every live financing registers the salted fingerprints of its invoice and
/// bill of lading (computed off chain; nothing readable is stored), so a second financing
/// of the same documents under another order or by another financier reverts.
///
/// Receivables finance: a financier advances the seller part of a milestone; proceeds are
/// assigned, so the buyer's bank pays the financier at maturity. Payables finance: the
/// financier pays the seller on the due date and the buyer's bank repays the financier
/// `extraDays` later, plus a fee.
contract Receivables is ReentrancyGuard {
    enum Kind { Receivable, Payable }
    enum FinancingState { None, Offered, Live, AwaitingRepayment, RepaymentDue, Settled, Declined, Withdrawn }

    uint256 public constant MAX_FINGERPRINTS = 8;
    uint16 internal constant MAX_EXTRA_DAYS = 360;

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
        uint64 offeredAt;
        uint64 acceptedAt;
        uint64 repaymentDue;
        bytes32 advanceRef;
        bytes32 repaymentRef;
    }

    Consortium public immutable consortium;
    TradeOrders public immutable orders;
    uint256 public financingCount;

    mapping(uint256 => Financing) private _financings;
    mapping(uint256 => bytes32[]) private _fingerprints;
    /// keccak256(orderId, milestone) => the live financing of that receivable, or 0.
    mapping(bytes32 => uint256) public liveFinancingOf;
    /// fingerprint => the live financing that registered it, or 0.
    mapping(bytes32 => uint256) public fingerprintOwner;

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
    event FinancingAccepted(uint256 indexed financingId, uint256 indexed orderId, address indexed firm);
    event FinancingDeclined(uint256 indexed financingId, address indexed firm);
    event FinancingWithdrawn(uint256 indexed financingId, address indexed financier);
    event FingerprintRegistered(bytes32 indexed fingerprint, uint256 indexed financingId);
    event FingerprintReleased(bytes32 indexed fingerprint, uint256 indexed financingId);
    event AdvancePaid(uint256 indexed financingId, address indexed financier, uint128 amount, bytes32 paymentReference);
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
    /// seller against one milestone, at a discount rate in basis points.
    function offerReceivableFinance(
        uint256 orderId,
        uint256 milestone,
        uint128 advance,
        uint16 discountBps,
        bytes32[] calldata fingerprints,
        NearKeys calldata near
    ) external nonReentrant returns (uint256 financingId) {
        (TradeOrders.Order memory o, TradeOrders.Milestone memory m) = _financeable(orderId, milestone);
        if (advance == 0 || advance > m.amount) revert InvalidAdvance(advance, m.amount);
        if (discountBps > 10_000) revert InvalidRate(discountBps);
        financingId = _offer(Kind.Receivable, o.seller, orderId, milestone, m.amount, advance, advance, discountBps, 0, fingerprints);
        _recordNear(financingId, near);
    }

    /// @notice Offer the buyer `extraDays` more to pay: the financier pays the seller on the
    /// due date; the buyer's bank repays the milestone amount plus `feeBps` later.
    function offerPayablesFinance(
        uint256 orderId,
        uint256 milestone,
        uint16 extraDays,
        uint16 feeBps,
        bytes32[] calldata fingerprints,
        NearKeys calldata near
    ) external nonReentrant returns (uint256 financingId) {
        (TradeOrders.Order memory o, TradeOrders.Milestone memory m) = _financeable(orderId, milestone);
        if (extraDays == 0 || extraDays > MAX_EXTRA_DAYS) revert InvalidTenor(extraDays);
        if (feeBps > 10_000) revert InvalidRate(feeBps);
        uint128 repayment = m.amount + uint128((uint256(m.amount) * feeBps) / 10_000);
        financingId = _offer(Kind.Payable, o.buyer, orderId, milestone, m.amount, m.amount, repayment, feeBps, extraDays, fingerprints);
        _recordNear(financingId, near);
    }

    function _recordNear(uint256 financingId, NearKeys calldata near) private {
        if (near.key != bytes32(0)) emit NearKeysRecorded(financingId, near.key, near.amount, near.date, near.buyer);
    }

    function _offer(
        Kind kind,
        address firm,
        uint256 orderId,
        uint256 milestone,
        uint128 receivable,
        uint128 advance,
        uint128 repayment,
        uint16 rateBps,
        uint16 extraDays,
        bytes32[] calldata fingerprints
    ) private returns (uint256 financingId) {
        if (fingerprints.length > MAX_FINGERPRINTS) revert TooManyFingerprints(fingerprints.length);
        _requireFree(orderId, milestone, fingerprints);
        financingId = ++financingCount;
        Financing storage f = _financings[financingId];
        f.kind = kind;
        f.state = FinancingState.Offered;
        f.financier = msg.sender;
        f.firm = firm;
        f.orderId = orderId;
        f.milestone = milestone;
        f.receivable = receivable;
        f.advance = advance;
        f.repaymentAmount = repayment;
        f.rateBps = rateBps;
        f.extraDays = extraDays;
        f.offeredAt = uint64(block.timestamp);
        _fingerprints[financingId] = fingerprints;
        emit FinancingOffered(financingId, orderId, msg.sender, milestone, kind, kind == Kind.Receivable ? advance : repayment, rateBps, extraDays);
    }

    /// @notice The firm (the seller for receivables, the buyer for payables) takes the
    /// offer. This is where "at most one live financing" is enforced: a second acceptance
    /// of the same receivable or of the same fingerprints reverts.
    function accept(uint256 financingId) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.firm) revert NotFinancedFirm(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        if (f.state != FinancingState.Offered) revert InvalidFinancingState(uint8(f.state));
        bytes32[] storage fps = _fingerprints[financingId];
        _requireFreeStorage(f.orderId, f.milestone, fps);
        f.state = FinancingState.Live;
        f.acceptedAt = uint64(block.timestamp);
        liveFinancingOf[_key(f.orderId, f.milestone)] = financingId;
        for (uint256 i; i < fps.length; ++i) {
            fingerprintOwner[fps[i]] = financingId;
            emit FingerprintRegistered(fps[i], financingId);
        }
        emit FinancingAccepted(financingId, f.orderId, msg.sender);
        if (f.kind == Kind.Receivable) {
            orders.assignProceeds(f.orderId, f.milestone, f.financier, financingId);
        } else {
            orders.assignPayer(f.orderId, f.milestone, f.financier, financingId);
        }
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

    /// @notice The financier records that it paid the seller the advance (off-chain rails).
    function confirmAdvance(uint256 financingId, bytes32 paymentReference) external nonReentrant {
        Financing storage f = _financing(financingId);
        if (msg.sender != f.financier) revert NotFinancier(msg.sender);
        consortium.requireRole(msg.sender, Roles.FINANCIER);
        if (f.kind != Kind.Receivable || f.state != FinancingState.Live || f.advanceRef != bytes32(0)) {
            revert InvalidFinancingState(uint8(f.state));
        }
        if (paymentReference == bytes32(0)) revert InvalidReference();
        f.advanceRef = paymentReference;
        emit AdvancePaid(financingId, msg.sender, f.advance, paymentReference);
    }

    // ------------------------------------------------------------------ settlement

    /// @notice Called by TradeOrders when a financed milestone is confirmed paid: a
    /// receivables financing is settled (the financier got the proceeds); a payables
    /// financing starts its repayment term.
    function onMilestonePaid(uint256 orderId, uint256 milestone) external nonReentrant {
        if (msg.sender != address(orders)) revert NotOrderParty(msg.sender);
        uint256 financingId = liveFinancingOf[_key(orderId, milestone)];
        if (financingId == 0) return;
        Financing storage f = _financings[financingId];
        if (f.kind == Kind.Receivable) {
            _settle(financingId, f);
        } else {
            f.state = FinancingState.AwaitingRepayment;
            f.repaymentDue = uint64(block.timestamp) + uint64(f.extraDays) * 1 days;
            emit RepaymentScheduled(financingId, f.repaymentDue, f.repaymentAmount);
        }
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
        emit RepaymentConfirmed(financingId, msg.sender, paymentReference);
        _settle(financingId, f);
    }

    function _settle(uint256 financingId, Financing storage f) private {
        f.state = FinancingState.Settled;
        delete liveFinancingOf[_key(f.orderId, f.milestone)];
        bytes32[] storage fps = _fingerprints[financingId];
        for (uint256 i; i < fps.length; ++i) {
            delete fingerprintOwner[fps[i]];
            emit FingerprintReleased(fps[i], financingId);
        }
        emit FinancingSettled(financingId, f.orderId);
    }

    // ------------------------------------------------------------------ views

    function getFinancing(uint256 financingId) external view returns (Financing memory) {
        return _financing(financingId);
    }

    function fingerprintsOf(uint256 financingId) external view returns (bytes32[] memory) {
        return _fingerprints[financingId];
    }

    // ------------------------------------------------------------------ internals

    function _financeable(uint256 orderId, uint256 milestone)
        private
        view
        returns (TradeOrders.Order memory o, TradeOrders.Milestone memory m)
    {
        consortium.requireRole(msg.sender, Roles.FINANCIER);
        o = orders.getOrder(orderId);
        m = orders.getMilestone(orderId, milestone);
        if (o.state != TradeOrders.OrderState.Committed) revert InvalidState(uint8(o.state));
        if (m.state != TradeOrders.MilestoneState.Pending && m.state != TradeOrders.MilestoneState.Triggered) {
            revert ReceivableNotFinanceable(orderId, milestone);
        }
        if (msg.sender == o.buyer || msg.sender == o.seller) revert InvalidParties();
    }

    function _requireFree(uint256 orderId, uint256 milestone, bytes32[] calldata fps) private view {
        uint256 live = liveFinancingOf[_key(orderId, milestone)];
        if (live != 0) revert ReceivableAlreadyFinanced(orderId, milestone, live);
        for (uint256 i; i < fps.length; ++i) {
            uint256 owner = fingerprintOwner[fps[i]];
            if (owner != 0) revert DuplicateFingerprint(fps[i], owner);
        }
    }

    function _requireFreeStorage(uint256 orderId, uint256 milestone, bytes32[] storage fps) private view {
        uint256 live = liveFinancingOf[_key(orderId, milestone)];
        if (live != 0) revert ReceivableAlreadyFinanced(orderId, milestone, live);
        for (uint256 i; i < fps.length; ++i) {
            uint256 owner = fingerprintOwner[fps[i]];
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
