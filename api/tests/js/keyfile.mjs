// Web3 Secret Storage (v3) key files between tradechain and ethers (v6), both ways: ethers
// opens the file tradechain exported, and writes one for tradechain to open.
// Usage: node keyfile.mjs <exported.json> <passphrase> <write-here.json>
// Prints the exported file's address, then the address of the key it wrote.
import fs from 'node:fs';
import { ethers } from 'ethers';

const [exported, passphrase, out] = process.argv.slice(2);
const opened = await ethers.Wallet.fromEncryptedJson(fs.readFileSync(exported, 'utf8'), passphrase);
console.log(opened.address);
const fresh = ethers.Wallet.createRandom();
// A light scrypt (N = 2^12) keeps the test quick; tradechain reads the parameters from the file.
const json = await ethers.encryptKeystoreJson(
  { address: fresh.address, privateKey: fresh.privateKey }, passphrase, { scrypt: { N: 4096 } });
fs.writeFileSync(out, json);
console.log(fresh.address);
