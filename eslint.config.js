import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

/** Hints that name probe-ops commands belong to the steps that know the context, not to src/systems. */
const probeOpsCommands = 'probe-ops (recover|restore|backup|diagnose|maintain|security-check|capacity-report|cert|report|alert|config)\\b'

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.sandbox/', '.tools/', 'bench/guide/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  { files: ['**/*.{js,mjs}'], ...tseslint.configs.disableTypeChecked },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Steps are async by their interface, whether or not a given one awaits.
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'smart'],
    },
  },
  { files: ['src/**/*.ts'], rules: { 'no-console': 'error' } },
  {
    files: ['src/systems/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        { selector: `Literal[value=/${probeOpsCommands}/]`, message: 'hints that name probe-ops commands belong to the step that knows the context' },
        {
          selector: `TemplateElement[value.raw=/${probeOpsCommands}/]`,
          message: 'hints that name probe-ops commands belong to the step that knows the context',
        },
      ],
    },
  },
  {
    files: ['test/**', 'bench/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  prettier,
)
