(* A user's file with lemmas left Admitted, for `hyperprover prove --env coq --file`. *)
Require Import Arith List Lia.

Lemma add_zero : forall n : nat, n + 0 = n.
Proof. Admitted.

Lemma add_comm' : forall n m : nat, n + m = m + n.
Proof. Admitted.

Lemma mul_one : forall n : nat, n * 1 = n.
Admitted.

Lemma le_refl' : forall n : nat, n <= n.
Proof. Admitted.

Lemma lt_succ : forall n : nat, n < S n.
Proof.
  (* to do *)
Admitted.

Lemma and_swap : forall P Q : Prop, P /\ Q -> Q /\ P.
Proof. Admitted.

Lemma or_swap : forall P Q : Prop, P \/ Q -> Q \/ P.
Proof. Admitted.

Lemma impl_refl : forall P : Prop, P -> P.
Proof. Admitted.

Lemma true_is_true : true = true.
Proof. Admitted.

Lemma negb_true : negb false = true.
Proof. Admitted.

Lemma two_plus_two : 2 + 2 = 4.
Proof. Admitted.

Lemma mul_comm' : forall n m : nat, n * m = m * n.
Proof. Admitted.

Lemma ineq : forall n m : nat, n < m -> n + 1 <= m.
Proof. Admitted.

Lemma double : forall n : nat, n + n = 2 * n.
Proof. Admitted.

Lemma nil_app' : forall (A : Type) (l : list A), nil ++ l = l.
Proof. Admitted.

Lemma length_nil : forall A : Type, length (@nil A) = 0.
Proof. Admitted.

Lemma not_false : ~ False.
Proof. Admitted.

Lemma eq_sym' : forall (A : Type) (x y : A), x = y -> y = x.
Proof. Admitted.

Section Shift.
Variable k : nat.
Definition shift (n : nat) := n + k.

Lemma shift_zero : shift 0 = k.
Proof. Admitted.

Lemma shift_mono : forall n m : nat, n <= m -> shift n <= shift m.
Proof using k. Admitted.
End Shift.

Lemma proved_already : 1 = 1.
Proof. reflexivity. Qed.

Lemma uses_an_admitted_one : forall n : nat, 0 + n + 0 = n.
Proof. Admitted.

Lemma hard : forall n : nat, n * n * n - n = n * (n - 1) * (n + 1).
Proof. Admitted.
