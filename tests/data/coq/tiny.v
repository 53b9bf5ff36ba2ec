(* A tiny library for the tests of the Coq env: top-level lemmas, one with binders. *)
Require Import Arith List.

Lemma plus_zero : forall n : nat, n + 0 = n.
Proof. intros n. lia. Qed.

Theorem app_nil (A : Type) (l : list A) : l ++ nil = l.
Proof. induction l; simpl; congruence. Qed.

Example negb_twice : forall b : bool, negb (negb b) = b.
Proof. destruct b; reflexivity. Qed.

Definition not_a_lemma := 3.
