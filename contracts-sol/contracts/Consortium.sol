// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./Errors.sol";
import "./Roles.sol";

/// @title Consortium
/// @notice Who may act on the platform. Every other contract asks this one before a
/// state change, so suspending an organisation here stops it everywhere at once.
contract Consortium {
    struct Organisation {
        string name;
        uint32 roles;
        bool registered;
        bool suspended;
        uint64 registeredAt;
    }

    /// A bank's holiday: when it was declared and, if it was withdrawn, when.
    struct Holiday {
        uint64 addedAt;
        uint64 removedAt;
    }

    /// Most days one `setHolidays` call may change.
    uint256 public constant MAX_HOLIDAYS_PER_CALL = 64;

    mapping(address => Organisation) private _orgs;
    uint256 public organisationCount;
    /// bank => day number (unix seconds / 1 day) => its holiday record.
    mapping(address => mapping(uint256 => Holiday)) private _holidays;
    /// How many holiday changes a bank ever made (0: Monday to Friday are all banking days).
    mapping(address => uint256) public holidayChanges;

    event OrganisationRegistered(address indexed account, uint32 roles, string name);
    event RolesChanged(address indexed account, uint32 roles);
    event OrganisationSuspended(address indexed account, string reason);
    event OrganisationReinstated(address indexed account);
    event HolidaysSet(address indexed bank, uint32[] days_, bool holiday);
    event NodeRegistered(uint256 indexed nodeId, address indexed owner, string endpoint, bytes32 encryptionKey);
    event NodeApproved(uint256 indexed nodeId);
    event NodeRevoked(uint256 indexed nodeId, string reason);
    event NodeKeyRotated(uint256 indexed nodeId, bytes32 encryptionKey);
    event NodeEndpointChanged(uint256 indexed nodeId, string endpoint);
    event NodeChosen(address indexed organisation, uint256 indexed nodeId);

    /// A member's tradechain node in the directory every node reads from the chain: where
    /// its peer endpoint is and the key private data is encrypted to.
    struct Node {
        /// The member that runs it (and alone may change it).
        address owner;
        /// Its peer endpoint (private data is delivered there), an http(s) URL.
        string endpoint;
        /// Its X25519 public key (HPKE, RFC 9180, DHKEM(X25519, HKDF-SHA256)).
        bytes32 encryptionKey;
        /// The operator admitted it to the consortium.
        bool approved;
        uint64 registeredAt;
        uint64 keyRotatedAt;
    }

    /// Nodes by id (from 1).
    mapping(uint256 => Node) private _nodes;
    uint256 public nodeCount;
    /// The node each organisation chose to serve it (0: none).
    mapping(address => uint256) private _nodeOf;
    /// Which node holds each encryption key: a member copying another node's key would
    /// have deliveries meant for it sent to its own endpoint (unreadable there, but lost
    /// to the node that holds the key), and could make a node mistake its id.
    mapping(bytes32 => uint256) private _nodeByKey;

    /// @param operator the consortium's first operator, registered with the OPERATOR role.
    constructor(address operator) {
        if (operator == address(0)) revert ZeroAddress();
        _orgs[operator] = Organisation("operator", Roles.OPERATOR, true, false, uint64(block.timestamp));
        organisationCount = 1;
        emit OrganisationRegistered(operator, Roles.OPERATOR, "operator");
    }

    modifier onlyOperator() {
        Organisation storage o = _orgs[msg.sender];
        if (!o.registered || o.suspended || o.roles & Roles.OPERATOR == 0) revert NotOperator(msg.sender);
        _;
    }

    function register(address account, string calldata name, uint32 roles) external onlyOperator {
        if (account == address(0)) revert ZeroAddress();
        if (bytes(name).length == 0 || bytes(name).length > 140) revert EmptyName();
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
        if (_orgs[account].registered) revert AlreadyRegistered(account);
        _orgs[account] = Organisation(name, roles, true, false, uint64(block.timestamp));
        organisationCount += 1;
        emit OrganisationRegistered(account, roles, name);
    }

    function setRoles(address account, uint32 roles) external onlyOperator {
        if (!_orgs[account].registered) revert UnknownOrganisation(account);
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
        if (account == msg.sender && roles & Roles.OPERATOR == 0) revert CannotSuspendSelf(account);
        _orgs[account].roles = roles;
        emit RolesChanged(account, roles);
    }

    /// @notice A suspended organisation can do nothing until reinstated; its live orders
    /// stay on chain untouched.
    function suspend(address account, string calldata reason) external onlyOperator {
        Organisation storage o = _orgs[account];
        if (!o.registered) revert UnknownOrganisation(account);
        if (account == msg.sender) revert CannotSuspendSelf(account);
        if (o.suspended) revert OrganisationIsSuspended(account);
        o.suspended = true;
        emit OrganisationSuspended(account, reason);
    }

    function reinstate(address account) external onlyOperator {
        Organisation storage o = _orgs[account];
        if (!o.registered) revert UnknownOrganisation(account);
        if (!o.suspended) revert InvalidState(0);
        o.suspended = false;
        emit OrganisationReinstated(account);
    }

    // ------------------------------------------------------------------ banking days

    /// @notice A bank declares (or withdraws) its holidays: days it is not open at its place
    /// of business, which UCP 600 art. 2's "banking day" excludes. Only the bank itself keeps
    /// its calendar, and only from today on. A change is dated: a presentation is examined,
    /// and a milestone's due date rolled, by the calendar as it stood when the presentation
    /// was made, so a bank cannot lengthen a running examination or push back a payment by
    /// declaring a holiday afterwards.
    function setHolidays(uint32[] calldata days_, bool holiday) external {
        requireRole(msg.sender, Roles.BANK);
        uint256 n = days_.length;
        if (n == 0 || n > MAX_HOLIDAYS_PER_CALL) revert InvalidHolidays(n);
        uint256 today = block.timestamp / 1 days;
        mapping(uint256 => Holiday) storage cal = _holidays[msg.sender];
        for (uint256 i; i < n; ++i) {
            uint256 day = days_[i];
            if (day < today) revert HolidayInThePast(day);
            Holiday storage h = cal[day];
            bool active = h.addedAt != 0 && h.removedAt == 0;
            if (holiday && !active) {
                cal[day] = Holiday(uint64(block.timestamp), 0);
            } else if (!holiday && active) {
                h.removedAt = uint64(block.timestamp);
            }
        }
        holidayChanges[msg.sender] += n;
        emit HolidaysSet(msg.sender, days_, holiday);
    }

    /// @notice Whether `day` was a holiday of `bank` by its calendar as it stood at `asOf`.
    /// A change counts only for what happens strictly after it: a declaration in the same
    /// second as a presentation (a later transaction of the same block, say) does not reach
    /// back to it.
    function isHoliday(address bank, uint256 day, uint64 asOf) external view returns (bool) {
        Holiday storage h = _holidays[bank][day];
        return h.addedAt != 0 && h.addedAt < asOf && (h.removedAt == 0 || h.removedAt >= asOf);
    }

    // ------------------------------------------------------------------ node directory

    /// @notice A member registers a node it runs. The node serves no one until the
    /// operator approves it and an organisation chooses it: the organisations a node
    /// serves are never the node's own claim, or a node could name any firm and receive
    /// that firm's private data.
    function registerNode(string calldata endpoint, bytes32 encryptionKey) external returns (uint256 nodeId) {
        requireRole(msg.sender, Roles.ALL);
        _checkEndpoint(endpoint);
        if (encryptionKey == bytes32(0)) revert InvalidNodeKey();
        _checkKeyFree(encryptionKey);
        nodeId = ++nodeCount;
        _nodeByKey[encryptionKey] = nodeId;
        _nodes[nodeId] = Node(msg.sender, endpoint, encryptionKey, false, uint64(block.timestamp), 0);
        emit NodeRegistered(nodeId, msg.sender, endpoint, encryptionKey);
    }

    function approveNode(uint256 nodeId) external onlyOperator {
        Node storage n = _node(nodeId);
        if (n.approved) revert NodeAlreadyApproved(nodeId);
        n.approved = true;
        emit NodeApproved(nodeId);
    }

    /// @notice The operator withdraws a node's approval (its key compromised, its member
    /// leaving): from then on no private data is delivered to it and no organisation may
    /// choose it; those that chose it keep their choice until they choose again, and the
    /// operator may approve it again.
    function revokeNode(uint256 nodeId, string calldata reason) external onlyOperator {
        Node storage n = _node(nodeId);
        if (!n.approved) revert NodeNotApproved(nodeId);
        n.approved = false;
        emit NodeRevoked(nodeId, reason);
    }

    /// @notice The owner replaces its node's encryption key (a key compromised, or its
    /// scheduled rotation); data delivered from then on is encrypted to the new key.
    function rotateNodeKey(uint256 nodeId, bytes32 encryptionKey) external {
        Node storage n = _owned(nodeId);
        if (encryptionKey == bytes32(0) || encryptionKey == n.encryptionKey) revert InvalidNodeKey();
        _checkKeyFree(encryptionKey);
        delete _nodeByKey[n.encryptionKey];
        _nodeByKey[encryptionKey] = nodeId;
        n.encryptionKey = encryptionKey;
        n.keyRotatedAt = uint64(block.timestamp);
        emit NodeKeyRotated(nodeId, encryptionKey);
    }

    /// @notice The owner moves its node's peer endpoint. The other members' nodes will
    /// connect there, so the move needs the operator's approval again: otherwise an approved
    /// member could point the others' nodes at an address inside their own networks. Until
    /// then nothing is delivered to the node and no organisation may newly choose it (those
    /// that chose it keep their choice).
    function setNodeEndpoint(uint256 nodeId, string calldata endpoint) external {
        Node storage n = _owned(nodeId);
        _checkEndpoint(endpoint);
        n.endpoint = endpoint;
        n.approved = false;
        emit NodeEndpointChanged(nodeId, endpoint);
    }

    /// @notice An organisation chooses the approved node that serves it (its bank's,
    /// say), or none with 0; only for itself.
    function chooseNode(uint256 nodeId) external {
        requireRole(msg.sender, Roles.ALL);
        if (nodeId != 0 && !_node(nodeId).approved) revert NodeNotApproved(nodeId);
        _nodeOf[msg.sender] = nodeId;
        emit NodeChosen(msg.sender, nodeId);
    }

    /// @notice The node `organisation` chose to serve it (0: none). Public, like the
    /// directory itself: every node must know where an order's parties are served.
    function nodeOf(address organisation) external view returns (uint256) {
        return _nodeOf[organisation];
    }

    function node(uint256 nodeId) external view returns (Node memory) {
        return _node(nodeId);
    }

    function _node(uint256 nodeId) private view returns (Node storage n) {
        n = _nodes[nodeId];
        if (n.owner == address(0)) revert UnknownNode(nodeId);
    }

    /// The node `nodeId`, if the caller is its owner and an active member.
    function _owned(uint256 nodeId) private view returns (Node storage n) {
        n = _node(nodeId);
        if (n.owner != msg.sender) revert NotNodeOwner(nodeId, msg.sender);
        requireRole(msg.sender, Roles.ALL);
    }

    function _checkKeyFree(bytes32 encryptionKey) private view {
        uint256 holder = _nodeByKey[encryptionKey];
        if (holder != 0) revert NodeKeyInUse(holder);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        bytes calldata b = bytes(endpoint);
        bool https = b.length > 8 && bytes8(b[:8]) == bytes8("https://");
        bool http = b.length > 7 && bytes7(b[:7]) == bytes7("http://");
        if (b.length > 200 || !(https || http)) revert InvalidEndpoint();
    }

    // ------------------------------------------------------------------ checks

    /// @notice Reverts unless `account` is a registered, unsuspended holder of any bit of `role`.
    function requireRole(address account, uint32 role) public view {
        Organisation storage o = _orgs[account];
        if (!o.registered) revert UnknownOrganisation(account);
        if (o.suspended) revert OrganisationIsSuspended(account);
        if (o.roles & role == 0) revert MissingRole(account, role);
    }

    function hasRole(address account, uint32 role) external view returns (bool) {
        Organisation storage o = _orgs[account];
        return o.registered && !o.suspended && o.roles & role != 0;
    }

    function organisation(address account) external view returns (Organisation memory) {
        return _orgs[account];
    }
}
