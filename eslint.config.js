// ESLint: recommended rules plus typescript-eslint's, with the project's strict habits.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'data/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    // One command, every chat: commands never see a chat library or an adapter.
    files: ['commands/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['grammy', '@grammyjs/*', 'discord.js', '@discordjs/*'],
              message: 'Commands are transport-neutral.',
            },
            {
              group: ['**/chat/telegram/*', '**/chat/discord/*', '**/chat/console/*'],
              message: 'Commands never know their adapter.',
            },
          ],
        },
      ],
    },
  },
);
