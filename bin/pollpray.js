#!/usr/bin/env node
// Thin entry: everything lives in the built CLI so `npx pollpray` starts fast.
import '../dist/main.js';
