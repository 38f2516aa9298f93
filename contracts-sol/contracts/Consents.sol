// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./Errors.sol";
import "./Roles.sol";
import {Consortium} from "./Consortium.sol";

/// @title Consents
/// @notice A firm decides which financier may read its trade history, and until when.
/// Every request, grant, decline and revocation is an event, so the firm can always see
/// who asked to look; the API records each read in its audit log and checks
/// `hasConsent` before serving one.
contract Consents {
    enum RequestState { None, Open, Granted, Declined, Withdrawn }

    struct Request {
        address financier;
        address firm;
        RequestState state;
        uint64 createdAt;
    }

    struct Consent {
        uint64 grantedAt;
        uint64 expiresAt;
        uint256 requestId;
    }

    uint64 internal constant MAX_CONSENT_SECONDS = 730 days;
    uint256 internal constant MAX_PURPOSE = 280;
    /// Open requests one financier may have at once (one per firm).
    uint256 public constant MAX_OPEN_REQUESTS = 32;
    /// A request unanswered this long may be withdrawn by its financier.
    uint64 internal constant WITHDRAWABLE_AFTER = 30 days;

    Consortium public immutable consortium;
    uint256 public requestCount;
    mapping(uint256 => Request) private _requests;
    mapping(address => mapping(address => Consent)) private _consents;
    /// financier => firm => its open request (0: none).
    mapping(address => mapping(address => uint256)) private _openRequestOf;
    /// financier => how many of its requests are open.
    mapping(address => uint256) private _openRequests;
    /// The suite's contracts that ask whether a consent is live (TradeOrders, Receivables).
    address public orders;
    address public receivables;

    event VerificationRequested(uint256 indexed requestId, address indexed financier, address indexed firm, string purpose);
    event ConsentGranted(address indexed firm, address indexed financier, uint256 indexed requestId, uint64 expiresAt);
    event VerificationDeclined(uint256 indexed requestId, address indexed firm, address indexed financier);
    event ConsentRevoked(address indexed firm, address indexed financier);
    event VerificationWithdrawn(uint256 indexed requestId, address indexed financier);
    event ReadersSet(address orders, address receivables);

    constructor(Consortium consortium_) {
        if (address(consortium_) == address(0)) revert ZeroAddress();
        consortium = consortium_;
    }

    /// @notice A financier asks a firm to open its history. Gas is free on a consortium chain,
    /// so requests are bounded: one open request per firm, and `MAX_OPEN_REQUESTS` open at
    /// once; an unanswered request can be withdrawn after `WITHDRAWABLE_AFTER`.
    function requestVerification(address firm, string calldata purpose) external returns (uint256 requestId) {
        consortium.requireRole(msg.sender, Roles.FINANCIER);
        consortium.requireRole(firm, Roles.TRADER);
        if (bytes(purpose).length == 0 || bytes(purpose).length > MAX_PURPOSE) revert InvalidReason();
        uint256 open = _openRequestOf[msg.sender][firm];
        if (open != 0) revert RequestAlreadyOpen(open);
        if (_openRequests[msg.sender] >= MAX_OPEN_REQUESTS) revert TooManyOpenRequests(_openRequests[msg.sender]);
        requestId = ++requestCount;
        _requests[requestId] = Request(msg.sender, firm, RequestState.Open, uint64(block.timestamp));
        _openRequestOf[msg.sender][firm] = requestId;
        _openRequests[msg.sender] += 1;
        emit VerificationRequested(requestId, msg.sender, firm, purpose);
    }

    /// @notice The financier withdraws a request the firm left unanswered for
    /// `WITHDRAWABLE_AFTER`, freeing its place.
    function withdrawRequest(uint256 requestId) external {
        Request storage r = _request(requestId);
        if (r.financier != msg.sender) revert NotFinancier(msg.sender);
        if (r.state != RequestState.Open) revert RequestAlreadyAnswered(requestId);
        uint64 closable = r.createdAt + WITHDRAWABLE_AFTER;
        if (block.timestamp < closable) revert RequestTooRecent(closable);
        r.state = RequestState.Withdrawn;
        _close(r);
        emit VerificationWithdrawn(requestId, msg.sender);
    }

    function _close(Request storage r) private {
        delete _openRequestOf[r.financier][r.firm];
        _openRequests[r.financier] -= 1;
    }

    /// @notice Grant `financier` access until `expiresAt` (at most two years ahead),
    /// answering request `requestId`, or unprompted with `requestId == 0`.
    function grant(address financier, uint64 expiresAt, uint256 requestId) external {
        consortium.requireRole(msg.sender, Roles.TRADER);
        consortium.requireRole(financier, Roles.FINANCIER);
        if (expiresAt <= block.timestamp || expiresAt > block.timestamp + MAX_CONSENT_SECONDS) revert InvalidExpiry(expiresAt);
        if (requestId != 0) {
            Request storage r = _request(requestId);
            if (r.firm != msg.sender || r.financier != financier) revert NotRequestedFirm(msg.sender);
            if (r.state != RequestState.Open) revert RequestAlreadyAnswered(requestId);
            r.state = RequestState.Granted;
            _close(r);
        }
        _consents[msg.sender][financier] = Consent(uint64(block.timestamp), expiresAt, requestId);
        emit ConsentGranted(msg.sender, financier, requestId, expiresAt);
    }

    function decline(uint256 requestId) external {
        Request storage r = _request(requestId);
        if (r.firm != msg.sender) revert NotRequestedFirm(msg.sender);
        consortium.requireRole(msg.sender, Roles.TRADER);
        if (r.state != RequestState.Open) revert RequestAlreadyAnswered(requestId);
        r.state = RequestState.Declined;
        _close(r);
        emit VerificationDeclined(requestId, msg.sender, r.financier);
    }

    /// @notice Ends a financier's access at once. A suspended firm may still revoke: taking
    /// access away is always allowed.
    function revoke(address financier) external {
        Consent storage c = _consents[msg.sender][financier];
        if (c.expiresAt <= block.timestamp) revert NoLiveConsent(msg.sender, financier);
        c.expiresAt = uint64(block.timestamp);
        emit ConsentRevoked(msg.sender, financier);
    }

    /// @notice Links the contracts that ask whether a consent is live, once.
    function setReaders(address orders_, address receivables_) external {
        consortium.requireRole(msg.sender, Roles.OPERATOR);
        if (orders != address(0)) revert AlreadyLinked();
        if (orders_ == address(0) || receivables_ == address(0)) revert ZeroAddress();
        orders = orders_;
        receivables = receivables_;
        emit ReadersSet(orders_, receivables_);
    }

    // Need to know: whether a firm lets a financier see its trade is the business of the two
    // of them, the operator and the suite's contracts; anyone else gets `NotEntitled`.

    function hasConsent(address firm, address financier) external view returns (bool) {
        _requireReader(firm, financier);
        return _consents[firm][financier].expiresAt > block.timestamp;
    }

    function consentOf(address firm, address financier) external view returns (Consent memory) {
        _requireReader(firm, financier);
        return _consents[firm][financier];
    }

    function getRequest(uint256 requestId) external view returns (Request memory r) {
        r = _request(requestId);
        _requireReader(r.firm, r.financier);
    }

    function _requireReader(address firm, address financier) private view {
        address s = msg.sender;
        if (s != address(0) && (s == orders || s == receivables)) return;
        bool named = s == firm || s == financier;
        if (consortium.hasRole(s, Roles.ALL) && (named || consortium.hasRole(s, Roles.OPERATOR))) return;
        revert NotEntitled(s);
    }

    function _request(uint256 requestId) private view returns (Request storage r) {
        r = _requests[requestId];
        if (r.state == RequestState.None) revert RequestNotFound(requestId);
    }
}
