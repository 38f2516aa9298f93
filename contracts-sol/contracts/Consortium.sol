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

    mapping(address => Organisation) private _orgs;
    uint256 public organisationCount;

    event OrganisationRegistered(address indexed account, uint32 roles, string name);
    event RolesChanged(address indexed account, uint32 roles);
    event OrganisationSuspended(address indexed account, string reason);
    event OrganisationReinstated(address indexed account);

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

    /// @notice Reverts unless `account` is a registered, unsuspended holder of any bit of `role`.
    function requireRole(address account, uint32 role) external view {
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
