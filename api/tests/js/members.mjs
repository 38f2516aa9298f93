// ethers v6 through the node's members-only JSON-RPC gate, as a bank's or a firm's own
// software would use it: without a credential every request is refused (HTTP 401); with
// the organisation's API token as a bearer token each party signs its own step of a trade
// (propose, accept, commit, present the invoice, accept it), reads its order, and sees its
// order's events; an organisation that is no party gets the contract's NotEntitled and
// no event.
// Usage: node members.mjs '<json config>'   (exit code 0 = all checks passed)
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';

const cfg = JSON.parse(process.argv[2]);
const abi = JSON.parse(fs.readFileSync(cfg.abi, 'utf8')).abi;
const step = (msg) => console.log(`ok  ${msg}`);

/// A provider that sends the organisation's API token with every request.
function provider(token) {
  const req = new ethers.FetchRequest(cfg.url);
  if (token) req.setHeader('Authorization', `Bearer ${token}`);
  return new ethers.JsonRpcProvider(req, 7431, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
}

const bytes3 = (s) => ethers.hexlify(ethers.toUtf8Bytes(s));

async function main() {
  // 1. No credential: nothing, not even the block number.
  await assert.rejects(provider(null).getBlockNumber(), (e) => {
    assert.match(String(e.shortMessage ?? e.message), /401/);
    return true;
  });
  step('without a bearer token: HTTP 401');

  const wallet = (p) => new ethers.Wallet(cfg.parties[p].key, provider(cfg.parties[p].token));
  const [buyer, seller, bank] = ['buyer', 'seller', 'bank'].map(wallet);
  const as = (w) => new ethers.Contract(cfg.orders, abi, w);
  assert.equal(await buyer.provider.getBlockNumber() > 0, true);
  step('with a bearer token: the chain answers');

  // 2. The trade, each step signed by its party with its own key.
  const terms = {
    seller: seller.address, buyerBank: bank.address, sellerBank: bank.address,
    carrier: ethers.ZeroAddress, inspector: ethers.ZeroAddress,
    amount: 24000000n, currency: bytes3('USD'), incoterm: bytes3('FOB'),
    detailsHash: ethers.id('1,200 bags of green arabica'),
    latestShipment: cfg.latest_shipment, expiry: cfg.expiry, examinationDays: 0, charges: 0,
  };
  const milestones = [{ shareBps: 10000, fixedAmount: 0, requiredDocs: 1, tenorDays: 0 }];
  const fees = { type: 2, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n };
  const proposed = await (await as(buyer).propose(terms, milestones, fees)).wait();
  const event = proposed.logs.map((l) => as(buyer).interface.parseLog(l)).find((e) => e?.name === 'OrderProposed');
  const orderId = event.args.orderId;
  step(`buyer proposed order ${orderId}`);
  await (await as(seller).accept(orderId, fees)).wait();
  step('seller accepted');
  await (await as(bank).commit(orderId, 0, fees)).wait();
  step('buyer bank committed');
  await (await as(seller).submitDocument(orderId, 0, ethers.id('%PDF invoice'), 'urn:invoice:1', fees)).wait();
  await (await as(bank).acceptDocument(orderId, 0, fees)).wait();
  step('invoice presented and accepted');

  // 3. Reads: a party sees its order and its events; `from` cannot be borrowed.
  const order = await as(seller).getOrder(orderId);
  assert.equal(order.amount, 24000000n);
  assert.equal(order.buyer, buyer.address);
  const logs = await seller.provider.getLogs({ address: cfg.orders, fromBlock: 0 });
  const names = logs.map((l) => as(seller).interface.parseLog(l)?.name);
  for (const n of ['OrderProposed', 'OrderAccepted', 'OrderCommitted', 'DocumentAccepted']) assert.ok(names.includes(n), `${n} in ${names}`);
  step(`the seller reads its order and ${logs.length} events`);

  const stranger = provider(cfg.outsider.token);
  const outsiderOrders = new ethers.Contract(cfg.orders, abi, stranger);
  await assert.rejects(outsiderOrders.getOrder(orderId, { from: buyer.address }), (e) => {
    assert.equal(e.revert?.name, 'NotEntitled', String(e));
    assert.equal(e.revert.args[0], ethers.getAddress(cfg.outsider.address));
    return true;
  });
  assert.equal((await stranger.getLogs({ address: cfg.orders, fromBlock: 0 })).length, 0);
  assert.equal(await stranger.getTransaction(proposed.hash), null);
  step('an organisation that is no party: NotEntitled, no event, no transaction');

  // 4. A party's own transactions only: a signature of someone else's key is refused.
  const borrowed = new ethers.Wallet(cfg.parties.buyer.key, stranger);
  await assert.rejects(as(borrowed).accept(orderId, { ...fees, gasLimit: 200000, nonce: 99 }), (e) => {
    assert.match(String(e.error?.message ?? e.message), /own key/);
    return true;
  });
  step("another organisation's signed transaction is not the caller's to send");
  console.log('ALL MEMBERS-ONLY CHECKS PASSED');
}

main().catch((e) => { console.error(e); process.exit(1); });
