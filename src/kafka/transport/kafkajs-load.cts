/**
 * The way in from ES modules to kafkajs-internals. Node reads the text of a CommonJS file that an ES module imports,
 * to find its export names (cjs-module-lexer), and after the build kafkajs-internals is one 400 KB bundle
 * (scripts/postbuild.mjs): 80 ms of reading on a small machine, on every Kafka command's start-up. This file is
 * read instead; its require is plain CommonJS, which reads nothing ahead. Not `module.exports = require(…)`: the
 * reader follows that form into the required file.
 */
import internals = require('./kafkajs-internals.cjs');
export = internals;
