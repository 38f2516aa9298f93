// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice Role bits of a consortium member. An organisation holds any combination;
/// a firm that both imports and exports holds TRADER once.
library Roles {
    uint32 internal constant TRADER = 1 << 0;
    uint32 internal constant BANK = 1 << 1;
    uint32 internal constant FINANCIER = 1 << 2;
    uint32 internal constant CARRIER = 1 << 3;
    uint32 internal constant INSPECTOR = 1 << 4;
    uint32 internal constant OPERATOR = 1 << 5;
    uint32 internal constant ALL = (1 << 6) - 1;
}
