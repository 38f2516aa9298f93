// A Hardhat node for tradechain's remote-network tests, started by scripts/with-hardhat.sh.
// Cancun because the suite is compiled for evmVersion cancun; the dev accounts come from the
// well-known test mnemonic (account #0 = the engine's DEV_OPERATOR_KEY).
// Mining: automine by default; TRADECHAIN_HARDHAT_INTERVAL_MS=1000 mines a block every second
// instead (transactions then stay pending until the next block, as on a real network).
const interval = Number(process.env.TRADECHAIN_HARDHAT_INTERVAL_MS || 0);

module.exports = {
  networks: {
    hardhat: {
      chainId: Number(process.env.TRADECHAIN_HARDHAT_CHAIN_ID || 31337),
      hardfork: "cancun",
      accounts: { mnemonic: "test test test test test test test test test test test junk" },
      mining: interval > 0 ? { auto: false, interval } : { auto: true },
    },
  },
};
