"""A JEXL subset compatible with iotagent-node-lib, evaluated without eval() and within bounds."""
