// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

// Every revert in the suite is one of these custom errors. They live in one file so that
// the API (and any client) decodes a revert from any contract with a single table.

// --- Consortium -------------------------------------------------------------------
error NotOperator(address caller);
error ZeroAddress();
error AlreadyRegistered(address account);
error UnknownOrganisation(address account);
error OrganisationIsSuspended(address account);
error MissingRole(address account, uint32 role);
error InvalidRoles(uint32 roles);
error EmptyName();
error CannotSuspendSelf(address operator);

// --- Orders -----------------------------------------------------------------------
error OrderNotFound(uint256 orderId);
error InvalidState(uint8 current);
error NotOrderBuyer(address caller);
error NotOrderSeller(address caller);
error NotOrderParty(address caller);
error NotBuyerBank(address caller);
error NotPayer(address caller);
error InvalidParties();
error ZeroAmount();
error InvalidCurrency(bytes3 currency);
error InvalidIncoterm(bytes3 incoterm);
error InvalidDates(uint64 latestShipment, uint64 expiry);
error InvalidExaminationPeriod(uint8 bankingDays);
error InvalidMilestoneCount(uint256 count);
error InvalidMilestone(uint256 index);
error MilestonesDoNotSum(uint256 coveredBps, uint256 expectedBps);
error MilestoneNotFound(uint256 index);
error InvalidMilestoneState(uint256 index, uint8 current);
error NotDueYet(uint64 dueDate);
error OrderExpiredAt(uint64 expiry);
error NotExpiredYet(uint64 expiry);
error MilestoneAlreadyTriggered();
error UnknownDocumentType(uint8 docType);
error DocumentNotRequired(uint8 docType);
error InvalidDocumentState(uint8 docType, uint8 current);
error EmptyHash();
error HashMismatch(bytes32 expected, bytes32 given);
error WrongIssuer(address caller, uint8 docType);
error DocumentNotAttested(uint8 docType);
error AlreadyAttested(uint8 docType);
error ExaminationPeriodOver(uint64 deadline);
error ExaminationPeriodNotOver(uint64 deadline);
error InvalidReason();
error InvalidReference();
error NoPendingAmendment();
error StaleAmendment(uint256 pendingId);
error CannotApproveOwnProposal();
error CancellationAlreadyRequested();
error NotDisputeParty(address caller);
error NotReceivables(address caller);
error ReceivablesAlreadySet();

// --- Receivables ------------------------------------------------------------------
error FinancingNotFound(uint256 financingId);
error InvalidFinancingState(uint8 current);
error NotFinancier(address caller);
error NotFinancedFirm(address caller);
error ReceivableAlreadyFinanced(uint256 orderId, uint256 milestone, uint256 financingId);
error DuplicateFingerprint(bytes32 fingerprint, uint256 financingId);
error TooManyFingerprints(uint256 count);
error InvalidAdvance(uint128 advance, uint128 receivable);
error InvalidRate(uint16 bps);
error InvalidTenor(uint16 days_);
error ReceivableNotFinanceable(uint256 orderId, uint256 milestone);
error RepaymentNotDue(uint64 dueDate);

// --- Consents ---------------------------------------------------------------------
error InvalidExpiry(uint64 expiresAt);
error RequestNotFound(uint256 requestId);
error NotRequestedFirm(address caller);
error RequestAlreadyAnswered(uint256 requestId);
error NoLiveConsent(address firm, address financier);
