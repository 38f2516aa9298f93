// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

// Every revert in the suite is one of these custom errors. They live in one file so that
// the API (and any client) decodes a revert from any contract with a single table.

// --- Consortium -------------------------------------------------------------------
error NotOperator(address caller);
/// Need to know: the caller may not read this order, financing, consent or request.
error NotEntitled(address caller);
/// A link between the suite's contracts is made once.
error AlreadyLinked();
error ZeroAddress();
error AlreadyRegistered(address account);
error UnknownOrganisation(address account);
error OrganisationIsSuspended(address account);
error MissingRole(address account, uint32 role);
error InvalidRoles(uint32 roles);
error EmptyName();
error CannotSuspendSelf(address operator);
error InvalidHolidays(uint256 count);
error HolidayInThePast(uint256 day);
/// The node directory: no node has this id.
error UnknownNode(uint256 nodeId);
/// Only the member that registered a node changes it.
error NotNodeOwner(uint256 nodeId, address caller);
/// An organisation may only choose a node the operator approved.
error NodeNotApproved(uint256 nodeId);
error NodeAlreadyApproved(uint256 nodeId);
/// A peer endpoint is an https:// or http:// URL of at most 200 bytes.
error InvalidEndpoint();
/// A node's encryption key is a non-zero X25519 public key, different from its current one.
error InvalidNodeKey();
/// A key already in the directory (another node's, copied to pass for it): one key, one node.
error NodeKeyInUse(uint256 nodeId);

// --- Orders -----------------------------------------------------------------------
error OrderNotFound(uint256 orderId);
error InvalidState(uint8 current);
error NotOrderBuyer(address caller);
error NotOrderSeller(address caller);
error NotOrderParty(address caller);
error NotBuyerBank(address caller);
error NotPayer(address caller);
error NotPayee(address caller);
error InvalidParties();
error ZeroAmount();
error AmountTooLarge(uint128 amount, uint128 maxAmount);
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
error CarrierRequired();
error InspectorRequired();
error InvalidAttester(address attester);
error AttestationPeriodOver(uint64 deadline);
error LateShipment(uint64 shipmentDay, uint64 latestShipmentDay);
error LatePresentation(uint64 presentationDay, uint64 deadlineDay);
error InvalidShipmentDate(uint64 shipmentDate);
error PresentationUnderExamination(uint8 docType);
error DisputeAlreadyOpen();
error NoOpenDispute();
error TooManyDisputes(uint32 disputes);
error InvalidReasonCode(bytes4 code);
error InvalidDiscrepancies(uint256 count);
error AlreadyApproved();

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
error MissingInvoiceFingerprint();
error InvalidDeadline(uint8 deadlineDays);
error DeadlineNotPassed(uint64 deadline);
error DeadlinePassed(uint64 deadline);
error AdvanceNotRecorded();
error FinancingStillBinding(uint8 orderState);
error InvalidFee(uint16 bps, uint16 maxBps);

// --- Consents ---------------------------------------------------------------------
error InvalidExpiry(uint64 expiresAt);
error RequestNotFound(uint256 requestId);
error NotRequestedFirm(address caller);
error RequestAlreadyAnswered(uint256 requestId);
error NoLiveConsent(address firm, address financier);
error RequestAlreadyOpen(uint256 requestId);
error TooManyOpenRequests(uint256 open);
error RequestTooRecent(uint64 closableAt);
