// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice Pure rules of trade the contracts check on chain: banking days, currency code
/// shape and the Incoterms 2020 list. The full ISO 4217 list is checked at the API's edge;
/// on chain a code is three upper-case letters.
library TradeCalendar {
    /// @notice The last second of the `n`-th banking day following the day of `ts`
    /// (UCP 600 art. 14(b): "five banking days following the day of presentation").
    /// Banking days are Monday to Friday; a bank's own holidays are not known on chain,
    /// so this deadline is never later than the rule allows.
    function addBankingDays(uint64 ts, uint8 n) internal pure returns (uint64) {
        uint256 day = ts / 1 days;
        uint256 added;
        while (added < n) {
            ++day;
            // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
            if ((day + 3) % 7 < 5) ++added;
        }
        return uint64((day + 1) * 1 days - 1);
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
