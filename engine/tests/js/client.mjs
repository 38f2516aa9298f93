// A real Ethereum client (ethers v6) against the tradechain engine, unchanged:
// deploy a contract, send transactions (EIP-1559 and legacy), read receipts, logs, blocks,
// decode a custom error from a revert, and check that a replayed transaction is refused.
// Usage: node client.mjs <rpc-url>     (exit code 0 = all checks passed)
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { ethers } from 'ethers';

const url = process.argv[2];
if (!url) { console.error('usage: node client.mjs <rpc-url>'); process.exit(2); }
const artifact = JSON.parse(fs.readFileSync(new URL('../fixtures/Counter.json', import.meta.url), 'utf8'));

const provider = new ethers.JsonRpcProvider(url, undefined, { cacheTimeout: -1, staticNetwork: true, pollingInterval: 50 });
const step = (msg) => console.log(`ok  ${msg}`);

async function main() {
  const network = await provider.getNetwork();
  assert.equal(network.chainId, 7431n);
  step(`chain id ${network.chainId}`);

  // A fresh key with no balance: gas price is 0 on this chain.
  const wallet = ethers.Wallet.createRandom().connect(provider);
  // Base fee 0: ethers treats the chain as pre-EIP-1559 by default (gas price 0, legacy txs);
  // EIP-1559 transactions are sent with explicit zero fees below.
  const fees = await provider.getFeeData();
  assert.equal(fees.gasPrice, 0n);
  step('fee data: gas price 0');

  const factory = new ethers.ContractFactory(artifact.abi, artifact.bytecode, wallet);
  const counter = await factory.deploy();
  const deployReceipt = await counter.deploymentTransaction().wait();
  await counter.waitForDeployment();
  const address = await counter.getAddress();
  assert.equal(deployReceipt.contractAddress, address);
  assert.equal(await provider.getCode(address), artifact.deployedBytecode);
  step(`deployed Counter at ${address}`);

  const tx1 = await counter.increment(5, { type: 2, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n });
  const r1 = await tx1.wait();
  assert.equal(r1.status, 1);
  assert.equal(r1.type, 2);
  assert.equal(r1.logs.length, 1);
  const ev = counter.interface.parseLog(r1.logs[0]);
  assert.equal(ev.name, 'Incremented');
  assert.equal(ev.args.by, wallet.address);
  assert.equal(ev.args.total, 5n);
  assert.equal(ev.args.delta, 5n);
  step(`increment(5) mined in block ${r1.blockNumber}, event decoded`);

  // Legacy (type 0) transaction with gas price 0.
  const data = counter.interface.encodeFunctionData('increment', [7]);
  const tx2 = await wallet.sendTransaction({ to: address, data, type: 0, gasPrice: 0 });
  const r2 = await tx2.wait();
  assert.equal(r2.status, 1);
  assert.equal(r2.type, 0);
  step('legacy transaction mined');

  assert.equal(await counter.count(), 12n);
  assert.equal(await counter.perSender(wallet.address), 12n);
  assert.equal(await provider.getTransactionCount(wallet.address), 3);
  step('state read back: count 12, nonce 3');

  const events = await counter.queryFilter(counter.filters.Incremented(wallet.address), 0, 'latest');
  assert.equal(events.length, 2);
  assert.deepEqual(events.map((e) => e.args.total), [5n, 12n]);
  const none = await counter.queryFilter(counter.filters.Incremented(ethers.ZeroAddress));
  assert.equal(none.length, 0);
  step('eth_getLogs with topic filters');

  const block = await provider.getBlock(r2.blockNumber, true);
  assert.equal(block.hash, r2.blockHash);
  assert.equal(block.number, r2.blockNumber);
  assert.ok(block.transactions.includes(tx2.hash));
  assert.equal(block.prefetchedTransactions[0].from, wallet.address);
  const parent = await provider.getBlock(r2.blockNumber - 1);
  assert.equal(block.parentHash, parent.hash);
  const got = await provider.getTransaction(tx1.hash);
  assert.equal(got.from, wallet.address);
  assert.equal(got.blockNumber, r1.blockNumber);
  step('blocks and transactions by hash');

  // Custom error with arguments, decoded from the revert data.
  await assert.rejects(counter.increment(5000), (e) => {
    assert.equal(e.code, 'CALL_EXCEPTION');
    const decoded = counter.interface.parseError(e.data);
    assert.equal(decoded.name, 'TooLarge');
    assert.equal(decoded.args.caller, wallet.address);
    assert.equal(decoded.args.value, 5000n);
    assert.equal(decoded.args.max, 1000n);
    return true;
  });
  await assert.rejects(counter.increment.staticCall(2000), (e) => e.revert?.name === 'TooLarge');
  step('custom error TooLarge(caller, 5000, 1000) decoded');

  // Replaying a mined transaction is refused and changes nothing.
  const height = await provider.getBlockNumber();
  await assert.rejects(provider.broadcastTransaction(ethers.Transaction.from(tx1).serialized), (e) => /already known|nonce too low/.test(e.message));
  assert.equal(await provider.getBlockNumber(), height);
  assert.equal(await counter.count(), 12n);
  step('replayed transaction refused');

  // WebSocket subscriptions: new heads and contract events pushed by the node.
  const ws = new ethers.WebSocketProvider(url.replace(/^http/, 'ws'), undefined, { staticNetwork: true });
  const wsCounter = new ethers.Contract(address, artifact.abi, ws);
  const timeout = (p, what) => Promise.race([p, new Promise((_, no) => setTimeout(() => no(new Error(`timed out waiting for ${what}`)), 10000))]);
  const gotEvent = new Promise((resolve) => wsCounter.once('Incremented', (by, total) => resolve(total)));
  const gotBlock = new Promise((resolve) => ws.once('block', (n) => resolve(n)));
  await new Promise((r) => setTimeout(r, 300)); // let the subscriptions register
  const r3 = await (await counter.increment(3)).wait();
  assert.equal(await timeout(gotEvent, 'Incremented event'), 15n);
  assert.ok((await timeout(gotBlock, 'new block')) >= r3.blockNumber - 1);
  await ws.destroy();
  step('WebSocket subscriptions: newHeads and logs');

  console.log('ALL CLIENT CHECKS PASSED');
}

main().then(() => process.exit(0), (e) => { console.error('FAILED:', e); process.exit(1); });
