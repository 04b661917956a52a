#!/usr/bin/env node
// Compiled by `npm run build` (npm install runs it); kept out of dist/ so the link npm makes at install time exists.
import '../dist/src/cli/main.js';
