"""The package version, in a module of its own so that engine modules can read it without importing the
package root (which re-exports everything and would close an import cycle)."""

__version__ = "0.1.0"
