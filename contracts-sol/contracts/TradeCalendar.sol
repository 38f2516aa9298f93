// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice Pure rules of trade the contracts check on chain: weekdays (a bank's holidays are
/// in the Consortium), currency code shape and the Incoterms 2020 list. The full ISO 4217 list is checked at the API's edge;
/// on chain a code is three upper-case letters.
library TradeCalendar {
    /// @notice Whether day number `day` (unix seconds / 1 day) is Monday to Friday.
    /// 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    function isWeekday(uint256 day) internal pure returns (bool) {
        return (day + 3) % 7 < 5;
    }

    function isCurrencyCode(bytes3 c) internal pure returns (bool) {
        for (uint256 i; i < 3; ++i) {
            bytes1 ch = c[i];
            if (ch < 0x41 || ch > 0x5a) return false;
        }
        return true;
    }

    /// @notice The eleven Incoterms 2020 rules. DAT is gone since 2020 (DPU replaced it).
    function isIncoterm2020(bytes3 t) internal pure returns (bool) {
        return t == "EXW" || t == "FCA" || t == "CPT" || t == "CIP" || t == "DAP" || t == "DPU" || t == "DDP" || t == "FAS"
            || t == "FOB" || t == "CFR" || t == "CIF";
    }
}
