"""Compatibility layers: code written for another CLV library runs on clvmodels by changing its
imports (:mod:`clvmodels.compat.lifetimes`)."""
